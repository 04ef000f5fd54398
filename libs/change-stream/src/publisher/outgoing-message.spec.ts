import { EJSON, ObjectId } from 'bson';
import { resolveOptions } from '../options/resolve-options';
import { CHANGE_EVENT_HEADERS } from '../events/change-event.headers';
import type { StreamOptions } from '../interfaces/change-stream-options.interface';
import { topicsOf } from '../options/routing';
import {
  joinBatch,
  packMessages,
  serializeEvent,
  unpackBatch,
  unpackJoined,
  type OutgoingMessage,
  type WireMessage,
} from './outgoing-message';

const streamOf = (stream: StreamOptions) =>
  resolveOptions({ mongo: { uri: 'mongodb://h:1' }, kafka: { brokers: ['h:1'] }, streams: [stream] })
    .streams[0];

describe('serializeEvent / topicsOf', () => {
  it('routes an event to its collection topic, keyed by documentKey, with the epoch header', () => {
    const stream = streamOf({ db: 'shop' });
    const id = new ObjectId();
    const event = {
      _id: { _data: 'abc' },
      operationType: 'insert',
      ns: { db: 'shop', coll: 'orders' },
      documentKey: { _id: id },
    };
    const [message] = serializeEvent(stream, event, 'abc', 3);
    expect(message.topic).toBe('cdc.shop.orders');
    expect(message.key).toBe(EJSON.stringify({ _id: id }, { relaxed: false }));
    expect(message.headers[CHANGE_EVENT_HEADERS.epoch]).toBe('3');
    expect(message.headers[CHANGE_EVENT_HEADERS.eventId]).toBe('abc');
  });

  it('sends events without a collection to the database topics', () => {
    expect(
      topicsOf(streamOf({ db: 'shop', collections: ['a', 'b'] }), {
        operationType: 'dropDatabase',
        ns: { db: 'shop' },
      }),
    ).toEqual(['cdc.shop.a', 'cdc.shop.b']);
    expect(topicsOf(streamOf({ db: 'shop', collection: 'a' }), { operationType: 'invalidate' })).toEqual([
      'cdc.shop.a',
    ]);
    expect(topicsOf(streamOf({ db: 'shop' }), { operationType: 'dropDatabase', ns: { db: 'shop' } })).toEqual(
      ['cdc.shop'],
    );
  });
});

describe('packMessages / joinBatch / unpackJoined / unpackBatch', () => {
  const messages: OutgoingMessage[] = [
    {
      topic: 'cdc.shop.orders',
      key: '{"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"}}',
      value: '{"operationType":"insert","fullDocument":{"name":"Zoë – ünïcødé 🚚"}}',
      headers: { 'cdc-event-id': '8201A2', 'cdc-epoch': '7' },
    },
    { topic: 'cdc.shop.ördérs', key: '', value: '', headers: {} },
    { topic: 't', key: 'k'.repeat(70_000), value: '€'.repeat(30_000), headers: { é: '' } },
  ];
  // Packed as the relay does: each event's messages when read.
  const parts = [packMessages(messages.slice(0, 1)), packMessages([]), packMessages(messages.slice(1))];
  const asText = (unpacked: WireMessage[]) =>
    unpacked.map((m) => ({
      topic: m.topic,
      key: m.key.toString(),
      value: m.value.toString(),
      headers: Object.fromEntries(Object.entries(m.headers).map(([name, v]) => [name, v.toString()])),
    }));

  it('round-trips topics, keys, values and headers byte for byte, in order, through the producer thread', () => {
    const unpacked = unpackJoined(joinBatch({ count: messages.length, parts }));
    expect(asText(unpacked)).toEqual(messages);
    expect(Buffer.isBuffer(unpacked[0].value)).toBe(true);
  });

  it('puts the checkpoint record last in a joined batch', () => {
    const checkpoint = { topic: 'cdc-relay.checkpoints', key: 'shop', value: '{}', headers: {} };
    const unpacked = unpackJoined(joinBatch({ count: messages.length, parts }, checkpoint));
    expect(asText(unpacked)).toEqual([...messages, checkpoint]);
  });

  it('unpacks a batch in this thread where its parts lie, without joining them', () => {
    const unpacked = unpackBatch({ count: messages.length, parts });
    expect(asText(unpacked)).toEqual(messages);
    // A view of the event's own packed buffer, not of a joined copy.
    expect((unpacked[0].value as Buffer).buffer).toBe(parts[0].buffer);
  });

  it('packs an empty batch', () => {
    expect(unpackJoined(joinBatch({ count: 0, parts: [] }))).toEqual([]);
    expect(unpackBatch({ count: 0, parts: [] })).toEqual([]);
    expect(packMessages([])).toHaveLength(0);
  });
});
