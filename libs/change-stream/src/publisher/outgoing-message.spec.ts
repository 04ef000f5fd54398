import { EJSON, ObjectId } from 'bson';
import { resolveOptions } from '../options/resolve-options';
import { CHANGE_EVENT_HEADERS } from '../events/change-event.headers';
import type { StreamOptions } from '../interfaces/change-stream-options.interface';
import { topicsOf } from '../options/routing';
import { recordBytes, surelyFits } from './kafka-limits';
import {
  joinBatch,
  pack,
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

describe('pack', () => {
  const event = (n: number): OutgoingMessage => ({
    topic: 'cdc.shop.orders',
    key: `{"_id":{"$numberInt":"${n}"}}`,
    value: `{"n":${n},"text":"${'ü'.repeat(n % 7)}${'x'.repeat(700)}"}`,
    headers: { 'cdc-event-id': `82${n}`, 'cdc-operation': 'insert', 'cdc-epoch': '3' },
  });

  it('counts the record bytes of what it packs exactly as recordBytes does', () => {
    const messages = [event(1), { topic: 't', key: '€', value: '😀'.repeat(9), headers: { é: 'ß' } }];
    expect(pack(messages).recordBytes).toBe(recordBytes(messages));
    expect(pack([]).recordBytes).toBe(0);
  });

  it('round-trips thousands of events packed across chunks, joined in order', () => {
    // 3 000 events of ~750 bytes: more than one 1 MB chunk, so a batch spans two of them.
    const all = Array.from({ length: 3_000 }, (_, n) => event(n));
    const parts = all.map((m) => packMessages([m]));
    expect(new Set(parts.map((p) => p.buffer)).size).toBeGreaterThan(1);
    const unpacked = unpackJoined(joinBatch({ count: all.length, parts }));
    expect(unpacked.map((m) => m.value.toString())).toEqual(all.map((m) => m.value));
    expect(unpacked[2_999].headers['cdc-event-id'].toString()).toBe('822999');
  });

  it('joins parts that are not neighbours in their chunk in the order given', () => {
    const [a, b, c] = [event(1), event(2), event(3)].map((m) => packMessages([m]));
    const unpacked = unpackJoined(joinBatch({ count: 3, parts: [c, a, b] }));
    expect(unpacked.map((m) => m.key.toString())).toEqual([3, 1, 2].map((n) => event(n).key));
  });

  it('packs an event larger than a chunk in a chunk of its own size', () => {
    const large = { topic: 't', key: 'k', value: 'é'.repeat(700_000), headers: {} };
    const { bytes } = pack([large]);
    expect(bytes.buffer.byteLength).toBeLessThan(3 * 700_000);
    expect(unpackBatch({ count: 1, parts: [bytes] })[0].value.toString()).toBe(large.value);
  });
});

describe('surelyFits', () => {
  it('is true only when even 3 bytes per character fit, so the exact size is measured near the limit', () => {
    const message = { topic: 't', key: 'k', value: 'x'.repeat(100), headers: { h: 'v' } };
    const exact = recordBytes([message]);
    expect(surelyFits([message], exact + 2 * 103)).toBe(true);
    expect(surelyFits([message], exact)).toBe(false);
  });
});
