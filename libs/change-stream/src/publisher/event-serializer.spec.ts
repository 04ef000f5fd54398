import { EJSON, ObjectId } from 'bson';
import { resolveOptions } from '../change-stream.options';
import { CHANGE_EVENT_HEADERS } from '../events/change-event.headers';
import type { StreamOptions } from '../interfaces/change-stream-options.interface';
import { serializeEvent, topicsOf } from './event-serializer';

const streamOf = (stream: StreamOptions) =>
  resolveOptions({ mongo: { uri: 'mongodb://h:1' }, kafka: { brokers: ['h:1'] }, streams: [stream] })
    .streams[0];

describe('event serializer', () => {
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
