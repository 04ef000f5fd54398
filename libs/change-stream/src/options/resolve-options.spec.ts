import { Timestamp } from 'bson';
import { Kafka } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { DEFAULTS } from './defaults';
import { resolveOptions } from './resolve-options';
import { topicFor } from './routing';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import type { ChangeStreamModuleOptions } from '../interfaces/change-stream-options.interface';

const base = (): ChangeStreamModuleOptions => ({
  mongo: { uri: 'mongodb://localhost:27017/?replicaSet=rs0' },
  kafka: { brokers: ['localhost:9092'] },
  streams: [{ db: 'shop', collection: 'orders' }],
});

const invalid = (patch: (o: any) => void): InvalidOptionsError => {
  const options: any = base();
  patch(options);
  try {
    resolveOptions(options);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionsError);
    return error as InvalidOptionsError;
  }
  throw new Error('resolveOptions accepted invalid options');
};

describe('resolveOptions: defaults', () => {
  it('applies DEFAULTS to minimal options', () => {
    const resolved = resolveOptions(base());
    expect(resolved.roles).toEqual({ relay: true, worker: true });
    expect(resolved.kafka.topicPrefix).toBe('cdc');
    expect(resolved.lease).toEqual({
      store: 'mongo',
      ttlMs: 10_000,
      renewIntervalMs: 3_333,
      safetyMarginMs: 2_000,
      retryIntervalMs: DEFAULTS.lease.retryIntervalMs,
      retryJitterMs: DEFAULTS.lease.retryJitterMs,
      keyPrefix: DEFAULTS.lease.keyPrefix,
    });
    expect(resolved.onHistoryLost).toBe('fail');
    expect(resolved.storage).toEqual(DEFAULTS.storage);
    expect(resolved.relay.batchSize).toBe(500);
    expect(resolved.relay).toMatchObject({ maxPublishStallMs: 15_000, maxCheckpointLagMs: 30_000 });
    expect(resolved.worker.groupId).toBeDefined();
    const [stream] = resolved.streams;
    expect(stream).toMatchObject({
      name: 'shop.orders',
      db: 'shop',
      collections: ['orders'],
      fullDocument: 'default',
      fullDocumentBeforeChange: 'off',
      operationTypes: null,
    });
    expect(stream.topicOf('orders')).toBe('cdc.shop.orders');
    expect(stream.databaseTopics).toEqual(['cdc.shop.orders']);
  });

  it('excludes the library collections, plus the user exclusions', () => {
    const resolved = resolveOptions({ ...base(), excludeNamespaces: ['shop.audit'] });
    expect(resolved.excludeNamespaces).toEqual([
      'shop.audit',
      'nest_change_stream.change_stream_checkpoints',
      'nest_change_stream.change_stream_leases',
      'nest_change_stream.change_stream_processed',
      'nest_change_stream.change_stream_offsets',
    ]);
  });

  it("accepts worker.dedupe 'offsets' with an exactly-once relay, or with no relay in this module", () => {
    const exactlyOnce = resolveOptions({
      ...base(),
      relay: { delivery: 'exactly-once' },
      worker: { dedupe: 'offsets' },
    });
    expect(exactlyOnce.worker.dedupe).toBe('offsets');
    const workerOnly = resolveOptions({ ...base(), relay: false, worker: { dedupe: 'offsets' } });
    expect(workerOnly.worker.dedupe).toBe('offsets');
    expect(resolveOptions(base()).worker.dedupe).toBe('markers');
  });

  it('chooses the Redis lease when Redis is configured, and derives renewal from the TTL', () => {
    const resolved = resolveOptions({
      ...base(),
      redis: { urls: ['redis://a:6379'] },
      lease: { ttlMs: 2_000 },
    });
    expect(resolved.lease).toMatchObject({
      store: 'redis',
      ttlMs: 2_000,
      renewIntervalMs: 667,
      safetyMarginMs: 500,
    });
  });
});

describe('resolveOptions: streams, topics and clients', () => {
  it('resolves topics: default, fixed, function, whole database', () => {
    const resolved = resolveOptions({
      ...base(),
      kafka: { brokers: ['k:9092'], topicPrefix: 'events' },
      streams: [
        { db: 'shop', collections: ['orders', 'carts'] },
        { db: 'crm', topic: 'crm-all' },
        { db: 'billing', collection: 'invoices', topic: (ns) => `x.${ns.coll}` },
        { db: 'hr' },
      ],
    });
    const [shop, crm, billing, hr] = resolved.streams;
    expect(shop.name).toBe('shop.orders,carts');
    expect(shop.databaseTopics).toEqual(['events.shop.orders', 'events.shop.carts']);
    expect(crm.topicOf('anything')).toBe('crm-all');
    expect(crm.databaseTopics).toEqual(['crm-all']);
    expect(billing.topicOf('invoices')).toBe('x.invoices');
    expect(hr.collections).toBeNull();
    expect(hr.databaseTopics).toEqual(['events.hr']);
    expect(topicFor(resolved, 'shop', 'carts')).toBe('events.shop.carts');
    expect(topicFor(resolved, 'hr', 'people')).toBe('events.hr.people');
    expect(topicFor(resolved, 'shop', 'unknown')).toBeUndefined();
  });

  it('accepts existing clients and a mongoose-like connection', () => {
    const client = new MongoClient('mongodb://localhost:1');
    const kafka = new Kafka({ brokers: ['localhost:1'] });
    expect(resolveOptions({ ...base(), mongo: { client }, kafka: { client: kafka } }).mongo.client).toBe(
      client,
    );
    expect(
      resolveOptions({ ...base(), mongo: { connection: { getClient: () => client } } }).mongo.connection,
    ).toBeDefined();
  });

  it('turns a Date start time into a Timestamp', () => {
    const resolved = resolveOptions({
      ...base(),
      streams: [{ db: 'shop', collection: 'orders', startAtOperationTime: new Date(5_000) }],
    });
    expect(resolved.streams[0].startAtOperationTime).toEqual(new Timestamp({ t: 5, i: 0 }));
  });

  it('allows no streams when the relay role is off', () => {
    expect(resolveOptions({ ...base(), streams: undefined, relay: false }).streams).toEqual([]);
  });
});

/** Invalid settings: [what is wrong, patch to base(), option named, message pattern]. */
type InvalidCase = [string, (o: any) => void, string, RegExp];

const INVALID_CASES: InvalidCase[] = [
  ['no mongo source', (o) => (o.mongo = {}), 'mongo', /exactly one of "uri", "client", "connection"/],
  ['two mongo sources', (o) => (o.mongo.client = {}), 'mongo', /got "uri and client"/],
  ['a bad URI', (o) => (o.mongo.uri = 'http://x'), 'mongo.uri', /'mongodb:\/\/'/],
  ['a non-client', (o) => (o.mongo = { client: {} }), 'mongo.client', /a MongoClient/],
  ['a bad broker', (o) => (o.kafka.brokers = ['nohost']), 'kafka.brokers[0]', /'host:port'/],
  ['a bad topic prefix', (o) => (o.kafka.topicPrefix = 'a b'), 'kafka.topicPrefix', /topic-name prefix/],
  ['an unknown kafka key', (o) => (o.kafka.broker = ['x:1']), 'kafka.broker', /no such option/],
  [
    'a non-boolean producerThread',
    (o) => (o.kafka.producerThread = 'on'),
    'kafka.producerThread',
    /true or false/,
  ],
  [
    'a producer thread with a client',
    (o) => (o.kafka = { client: new Kafka({ brokers: ['x:1'] }), producerThread: true }),
    'kafka.producerThread',
    /only with "kafka.brokers"/,
  ],
  [
    'a producer thread with a function setting',
    (o) => Object.assign(o.kafka, { producerThread: true, logCreator: () => () => undefined }),
    'kafka.producerThread',
    /"kafka.logCreator" cannot/,
  ],
  ['a Redis lease without Redis', (o) => (o.lease = { store: 'redis' }), 'redis', /Redis URLs or clients/],
  ['a bad Redis URL', (o) => (o.redis = { urls: ['localhost:6379'] }), 'redis.urls[0]', /'redis:\/\/'/],
  [
    'a TTL too long',
    (o) => (o.lease = { ttlMs: 120_000 }),
    'lease.ttlMs',
    /an integer from 1000 to 60000, got 120000/,
  ],
  [
    'renewal too close to expiry',
    (o) => (o.lease = { ttlMs: 3_000, renewIntervalMs: 2_800 }),
    'lease.renewIntervalMs',
    /an integer from 50 to 2399/,
  ],
  ['no streams for a relay', (o) => (o.streams = []), 'streams', /at least one stream/],
  ['a stream without db', (o) => (o.streams = [{ collection: 'x' }]), 'streams[0].db', /a database name/],
  [
    'an unwatchable database',
    (o) => (o.streams = [{ db: 'local' }]),
    'streams[0].db',
    /other than admin, local, config/,
  ],
  [
    'collection and collections',
    (o) => (o.streams = [{ db: 'a', collection: 'x', collections: ['y'] }]),
    'streams[0]',
    /either "collection" or "collections"/,
  ],
  [
    'an empty collections list',
    (o) => (o.streams = [{ db: 'a', collections: [] }]),
    'streams[0].collections',
    /non-empty array/,
  ],
  [
    'the library collection',
    (o) => (o.streams = [{ db: 'nest_change_stream', collection: 'change_stream_checkpoints' }]),
    'streams[0].collection',
    /never watched/,
  ],
  [
    'an unknown operation type',
    (o) => (o.streams[0].operationTypes = ['upsert']),
    'streams[0].operationTypes[0]',
    /operation types \(insert, update/,
  ],
  [
    'a bad fullDocument',
    (o) => (o.streams[0].fullDocument = 'always'),
    'streams[0].fullDocument',
    /'default', 'updateLookup', 'whenAvailable', 'required'/,
  ],
  [
    'a forbidden stage',
    (o) => (o.streams[0].pipeline = [{ $group: { _id: 1 } }]),
    'streams[0].pipeline[0]',
    /one stage of \$match/,
  ],
  ['a bad topic', (o) => (o.streams[0].topic = 'orders!'), 'streams[0].topic', /a Kafka topic name/],
  [
    'a bad topic function result',
    (o) => (o.streams[0].topic = () => ''),
    'streams[0].topic (returned for shop.orders)',
    /a Kafka topic name/,
  ],
  [
    'two streams with one name',
    (o) => o.streams.push({ db: 'shop', collection: 'orders' }),
    'streams[1].name',
    /streams\[0\] is also "shop.orders"/,
  ],
  [
    'a bad start time',
    (o) => (o.streams[0].startAtOperationTime = 5),
    'streams[0].startAtOperationTime',
    /a BSON Timestamp or a Date/,
  ],
  ['a bad policy', (o) => (o.onHistoryLost = 'ignore'), 'onHistoryLost', /'fail', 'resnapshot'/],
  [
    'a bad batch size',
    (o) => (o.relay = { batchSize: 0 }),
    'relay.batchSize',
    /an integer from 1 to 10000, got 0/,
  ],
  [
    'a checkpoint lag limit within one checkpoint cycle',
    (o) => (o.relay = { checkpointIntervalMs: 5_000, maxCheckpointLagMs: 5_500 }),
    'relay.maxCheckpointLagMs',
    /an integer from 6000 to 3600000, got 5500/,
  ],
  [
    'a bad publish stall limit',
    (o) => (o.relay = { maxPublishStallMs: 0 }),
    'relay.maxPublishStallMs',
    /from 100/,
  ],
  ['an unknown top-level key', (o) => (o.listen = true), 'listen', /no such option/],
  ['a role neither settings nor false', (o) => (o.relay = true), 'relay', /an object, or false/],
  ['a bad worker option', (o) => (o.worker = { groupId: '' }), 'worker.groupId', /non-empty string/],
  [
    "worker.dedupe 'offsets' fed by this module's at-least-once relay",
    (o) => (o.worker = { dedupe: 'offsets' }),
    'worker.dedupe',
    /needs relay.delivery 'exactly-once'.*got "offsets"/,
  ],
  [
    "worker.dedupe 'offsets' with an explicit at-least-once relay",
    (o) => ((o.worker = { dedupe: 'offsets' }), (o.relay = { delivery: 'at-least-once' })),
    'worker.dedupe',
    /while relay.delivery is 'at-least-once'/,
  ],
];

describe('resolveOptions: invalid options', () => {
  it.each<InvalidCase>(INVALID_CASES)('rejects %s, naming the option', (_, patch, option, expected) => {
    const error = invalid(patch);
    expect(error.option).toBe(option);
    expect(error.message).toContain(`"${option}"`);
    expect(error.message).toMatch(expected);
  });
});
