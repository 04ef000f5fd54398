import { CHANGE_OPERATION_TYPES } from './events/change-event.interface';
import { Timestamp, type Document } from 'bson';
import { KAFKA_LIBRARY_KEYS, producerThreadData } from './connections/kafka-config';
import { InvalidOptionsError } from './errors/invalid-options.error';
import { unclonableSetting } from './publisher/producer-thread';
import {
  isObject,
  hasMethods,
  optionalInt,
  optionalBoolean,
  optionalOneOf,
  name,
  stringList,
  exactlyOne,
  section,
} from './utils/option-validators';
import { defaultTopic, relayCheckpointTopic, relayDeadLetterTopic, TOPIC_NAME } from './events/topic-naming';
import type {
  StreamOperationType,
  ChangeStreamModuleOptions,
  KafkaConnectionOptions,
  LeaseOptions,
  Namespace,
  ResolvedChangeStreamOptions,
  ResolvedStream,
  StreamOptions,
} from './interfaces/change-stream-options.interface';
import { validateWorkerOptions, type ResolvedWorkerOptions } from './interfaces/worker-options.interface';

/**
 * Every default of the module, in one place. Lease renewal and safety margin are derived from the
 * TTL (`ttlMs / 3` and `max(500, ttlMs / 5)`) unless set.
 */
export const DEFAULTS = {
  listener: true,
  consumer: true,
  kafka: { topicPrefix: 'cdc', clientId: 'nest-change-stream' },
  lease: { ttlMs: 10_000, retryIntervalMs: 300, retryJitterMs: 200, keyPrefix: 'nest-change-stream:lease' },
  stream: {
    fullDocument: 'default',
    fullDocumentBeforeChange: 'off',
    showExpandedEvents: false,
    // NOTE: off: servers before 7.0 / 6.0.9 refuse the stage, and consumers of older versions do not reassemble fragments.
    splitLargeEvents: false,
  },
  onHistoryLost: 'fail',
  storage: {
    database: 'nest_change_stream',
    checkpoints: 'change_stream_checkpoints',
    leases: 'change_stream_leases',
    processed: 'change_stream_processed',
    /** The applied offsets of `worker.dedupe: 'offsets'`: one document per (group, topic, partition). */
    offsets: 'change_stream_offsets',
  },
  relay: {
    batchSize: 500,
    maxInFlightEvents: 5_000,
    maxInFlightBytes: 32 * 1024 * 1024,
    maxAwaitTimeMs: 1_000,
    checkpointIntervalMs: 1_000,
    backoff: { initialMs: 100, maxMs: 30_000 },
    shutdownTimeoutMs: 5_000,
    /** Bytes of one Kafka batch at most; the topics' `max.message.bytes` (read at start) may lower it. */
    maxBatchBytes: 8 * 1024 * 1024,
    onUnpublishable: 'fail',
    /** null: `<kafka.topicPrefix>-relay.dlq` (see relayDeadLetterTopic). */
    deadLetterTopic: null,
    /**
     * Health DOWN when a send (or the producer's connection) waits longer: above a Kafka partition
     * leader failover (about 10 s), below the 20 s broker outage health should not hide.
     */
    maxPublishStallMs: 15_000,
    /** Health DOWN when read events wait longer for their checkpoint (at least twice the checkpoint cycle). */
    maxCheckpointLagMs: 30_000,
    /**
     * 'at-least-once': works on every Kafka (no transactions needed), adds no commit latency for
     * read-committed consumers, and the library's workers apply effects once through markers anyway.
     */
    delivery: 'at-least-once',
    /** kafkajs' default; must not exceed the brokers' transaction.max.timeout.ms (15 min by default). */
    transactionTimeoutMs: 60_000,
    /** null: `<kafka.topicPrefix>-relay.checkpoints` (see relayCheckpointTopic). */
    checkpointTopic: null,
  },
  /** Thresholds of the health indicators (ChangeStreamHealthModule.forRoot). */
  health: {
    /** /health DOWN when a leader read nothing for longer (a getMore returns at least every relay.maxAwaitTimeMs). */
    maxReadSilenceMs: 60_000,
    /**
     * Liveness DOWN when the event loop was blocked longer: 10x a long GC pause or a CPU-throttled
     * slice, half the lease TTL (a loop stalled longer risks its renewals and the worker heartbeats).
     */
    maxEventLoopDelayMs: 5_000,
  },
} as const;

/** What a stream's `operationTypes` may name: the server's types (resnapshot events come from the library only). */
const OPERATION_TYPES = CHANGE_OPERATION_TYPES.filter(
  (t) => t !== 'snapshot' && t !== 'snapshotStart' && t !== 'snapshotEnd',
) as readonly StreamOperationType[];
/** Stages MongoDB allows after `$changeStream`. */
const PIPELINE_STAGES = [
  '$match',
  '$project',
  '$addFields',
  '$set',
  '$unset',
  '$replaceRoot',
  '$replaceWith',
  '$redact',
];
const FULL_DOCUMENT = ['default', 'updateLookup', 'whenAvailable', 'required'] as const;
const FULL_DOCUMENT_BEFORE_CHANGE = ['off', 'whenAvailable', 'required'] as const;
const UNWATCHABLE_DATABASES = ['admin', 'local', 'config'];
const HOST_PORT = /^[^\s:/]+:\d{1,5}$/;
/** Every key of the `kafka` section: the library's own, then kafkajs' KafkaConfig passed through. */
const KAFKA_KEYS = [
  ...KAFKA_LIBRARY_KEYS,
  'clientId',
  'ssl',
  'sasl',
  'connectionTimeout',
  'authenticationTimeout',
  'reauthenticationThreshold',
  'requestTimeout',
  'enforceRequestTimeout',
  'retry',
  'socketFactory',
  'logLevel',
  'logCreator',
];
export const STREAM_OPTION_KEYS = [
  'name',
  'db',
  'collection',
  'collections',
  'pipeline',
  'operationTypes',
  'fullDocument',
  'fullDocumentBeforeChange',
  'showExpandedEvents',
  'splitLargeEvents',
  'topic',
  'startAtOperationTime',
];
export const ROOT_OPTION_KEYS = [
  'listener',
  'consumer',
  'mongo',
  'kafka',
  'redis',
  'lease',
  'streams',
  'onHistoryLost',
  'excludeNamespaces',
  'storage',
  'relay',
  'worker',
];

function resolveMongo(value: unknown): ResolvedChangeStreamOptions['mongo'] {
  const mongo = section(value, 'mongo', true, ['uri', 'clientOptions', 'client', 'connection'])!;
  const source = exactlyOne(mongo, 'mongo', ['uri', 'client', 'connection']);
  if (source === 'uri' && (typeof mongo.uri !== 'string' || !/^mongodb(\+srv)?:\/\/./.test(mongo.uri))) {
    throw new InvalidOptionsError(
      'mongo.uri',
      "a connection string starting with 'mongodb://' or 'mongodb+srv://'",
      mongo.uri,
    );
  }
  if (source === 'client' && !hasMethods(mongo.client, 'db', 'startSession')) {
    throw new InvalidOptionsError('mongo.client', 'a MongoClient from the mongodb driver', mongo.client);
  }
  if (source === 'connection' && !hasMethods(mongo.connection, 'getClient')) {
    throw new InvalidOptionsError(
      'mongo.connection',
      'a mongoose Connection (an object with getClient())',
      mongo.connection,
    );
  }
  if (mongo.clientOptions !== undefined && (source !== 'uri' || !isObject(mongo.clientOptions))) {
    throw new InvalidOptionsError(
      'mongo.clientOptions',
      'an object of MongoClientOptions, together with "mongo.uri"',
      mongo.clientOptions,
    );
  }
  return mongo as ResolvedChangeStreamOptions['mongo'];
}

function resolveKafka(value: unknown): ResolvedChangeStreamOptions['kafka'] {
  const kafka = section(value, 'kafka', true, KAFKA_KEYS)!;
  const source = exactlyOne(kafka, 'kafka', ['brokers', 'client']);
  if (source === 'brokers')
    stringList(kafka.brokers, 'kafka.brokers', "'host:port' strings", (b) => HOST_PORT.test(b));
  if (source === 'client' && !hasMethods(kafka.client, 'producer', 'consumer')) {
    throw new InvalidOptionsError('kafka.client', 'a kafkajs Kafka instance', kafka.client);
  }
  const topicPrefix = kafka.topicPrefix ?? DEFAULTS.kafka.topicPrefix;
  if (typeof topicPrefix !== 'string' || !TOPIC_NAME.test(topicPrefix)) {
    throw new InvalidOptionsError(
      'kafka.topicPrefix',
      'a topic-name prefix of letters, digits, ".", "_" or "-"',
      topicPrefix,
    );
  }
  if (kafka.producer !== undefined && !isObject(kafka.producer))
    throw new InvalidOptionsError('kafka.producer', 'an object of kafkajs ProducerConfig', kafka.producer);
  if (kafka.producerThread !== undefined && typeof kafka.producerThread !== 'boolean')
    throw new InvalidOptionsError('kafka.producerThread', 'true or false', kafka.producerThread);
  if (kafka.producerThread === true) {
    if (source === 'client')
      throw new InvalidOptionsError(
        'kafka.producerThread',
        'true only with "kafka.brokers" (an existing kafkajs client cannot move to another thread)',
        kafka.producerThread,
      );
    const blocker = unclonableSetting(producerThreadData(kafka as KafkaConnectionOptions));
    if (blocker)
      throw new InvalidOptionsError(
        'kafka.producerThread',
        `true only with settings that can move to another thread ("${blocker}" cannot: functions and class instances stay in this thread; set producerThread: false)`,
        kafka.producerThread,
      );
  }
  return { clientId: DEFAULTS.kafka.clientId, ...kafka, topicPrefix } as ResolvedChangeStreamOptions['kafka'];
}

function resolveRedis(value: unknown): ResolvedChangeStreamOptions['redis'] {
  const redis = section(value, 'redis', false, ['urls', 'clients', 'options']);
  if (!redis) return null;
  const source = exactlyOne(redis, 'redis', ['urls', 'clients']);
  if (source === 'urls')
    stringList(redis.urls, 'redis.urls', "'redis://' or 'rediss://' URLs", (u) => /^rediss?:\/\/./.test(u));
  if (source === 'clients') {
    if (!Array.isArray(redis.clients) || redis.clients.length === 0)
      throw new InvalidOptionsError('redis.clients', 'a non-empty array of ioredis clients', redis.clients);
    redis.clients.forEach((client, i) => {
      if (!hasMethods(client, 'evalsha', 'eval'))
        throw new InvalidOptionsError(`redis.clients[${i}]`, 'an ioredis client', client);
    });
  }
  return redis as ResolvedChangeStreamOptions['redis'];
}

function resolveLease(value: unknown, hasRedis: boolean): Required<LeaseOptions> {
  const lease =
    section(value, 'lease', false, [
      'store',
      'ttlMs',
      'renewIntervalMs',
      'safetyMarginMs',
      'retryIntervalMs',
      'retryJitterMs',
      'keyPrefix',
    ]) ?? {};
  const store = optionalOneOf(
    lease.store,
    'lease.store',
    ['redis', 'mongo'] as const,
    hasRedis ? 'redis' : 'mongo',
  );
  if (store === 'redis' && !hasRedis)
    throw new InvalidOptionsError('redis', "Redis URLs or clients when lease.store is 'redis'", undefined);
  const ttlMs = optionalInt(lease.ttlMs, 'lease.ttlMs', 1_000, 60_000, DEFAULTS.lease.ttlMs);
  const safetyMarginMs = optionalInt(
    lease.safetyMarginMs,
    'lease.safetyMarginMs',
    100,
    Math.floor(ttlMs / 2),
    Math.max(500, Math.round(ttlMs / 5)),
  );
  const maxRenew = ttlMs - safetyMarginMs - 1;
  const renewIntervalMs = optionalInt(
    lease.renewIntervalMs,
    'lease.renewIntervalMs',
    50,
    maxRenew,
    Math.min(maxRenew, Math.round(ttlMs / 3)),
  );
  const keyPrefix = lease.keyPrefix ?? DEFAULTS.lease.keyPrefix;
  if (typeof keyPrefix !== 'string' || keyPrefix.length === 0)
    throw new InvalidOptionsError('lease.keyPrefix', 'a non-empty string', keyPrefix);
  return {
    store,
    ttlMs,
    renewIntervalMs,
    safetyMarginMs,
    retryIntervalMs: optionalInt(
      lease.retryIntervalMs,
      'lease.retryIntervalMs',
      10,
      60_000,
      DEFAULTS.lease.retryIntervalMs,
    ),
    retryJitterMs: optionalInt(
      lease.retryJitterMs,
      'lease.retryJitterMs',
      0,
      60_000,
      DEFAULTS.lease.retryJitterMs,
    ),
    keyPrefix,
  };
}

function resolveRelay(value: unknown, topicPrefix: string): ResolvedChangeStreamOptions['relay'] {
  const relay = section(value, 'relay', false, Object.keys(DEFAULTS.relay)) ?? {};
  const d = DEFAULTS.relay;
  const backoff = section(relay.backoff, 'relay.backoff', false, ['initialMs', 'maxMs']) ?? {};
  const initialMs = optionalInt(backoff.initialMs, 'relay.backoff.initialMs', 1, 60_000, d.backoff.initialMs);
  const batchSize = optionalInt(relay.batchSize, 'relay.batchSize', 1, 10_000, d.batchSize);
  return {
    batchSize,
    maxInFlightEvents: optionalInt(
      relay.maxInFlightEvents,
      'relay.maxInFlightEvents',
      batchSize,
      1_000_000,
      Math.max(batchSize, d.maxInFlightEvents),
    ),
    maxInFlightBytes: optionalInt(
      relay.maxInFlightBytes,
      'relay.maxInFlightBytes',
      1024,
      2 ** 31,
      d.maxInFlightBytes,
    ),
    maxAwaitTimeMs: optionalInt(relay.maxAwaitTimeMs, 'relay.maxAwaitTimeMs', 10, 60_000, d.maxAwaitTimeMs),
    checkpointIntervalMs: optionalInt(
      relay.checkpointIntervalMs,
      'relay.checkpointIntervalMs',
      0,
      600_000,
      d.checkpointIntervalMs,
    ),
    backoff: {
      initialMs,
      maxMs: optionalInt(
        backoff.maxMs,
        'relay.backoff.maxMs',
        initialMs,
        600_000,
        Math.max(initialMs, d.backoff.maxMs),
      ),
    },
    shutdownTimeoutMs: optionalInt(
      relay.shutdownTimeoutMs,
      'relay.shutdownTimeoutMs',
      0,
      600_000,
      d.shutdownTimeoutMs,
    ),
    maxBatchBytes: optionalInt(relay.maxBatchBytes, 'relay.maxBatchBytes', 1024, 2 ** 31, d.maxBatchBytes),
    onUnpublishable: optionalOneOf(
      relay.onUnpublishable,
      'relay.onUnpublishable',
      ['fail', 'deadLetter'] as const,
      d.onUnpublishable,
    ),
    deadLetterTopic:
      relay.deadLetterTopic === undefined || relay.deadLetterTopic === null
        ? relayDeadLetterTopic(topicPrefix)
        : topicName(relay.deadLetterTopic as string, 'relay.deadLetterTopic'),
    ...resolveDelivery(relay, topicPrefix),
    ...resolveStallLimits(relay),
  };
}

/** How the relay delivers to Kafka (exactly-once: transactions with a checkpoint topic). */
function resolveDelivery(
  relay: Record<string, unknown>,
  topicPrefix: string,
): Pick<ResolvedChangeStreamOptions['relay'], 'delivery' | 'transactionTimeoutMs' | 'checkpointTopic'> {
  const d = DEFAULTS.relay;
  return {
    delivery: optionalOneOf(
      relay.delivery,
      'relay.delivery',
      ['at-least-once', 'exactly-once'] as const,
      d.delivery,
    ),
    // NOTE: Kafka refuses a timeout above transaction.max.timeout.ms (INVALID_TRANSACTION_TIMEOUT at the first InitProducerId).
    transactionTimeoutMs: optionalInt(
      relay.transactionTimeoutMs,
      'relay.transactionTimeoutMs',
      1_000,
      3_600_000,
      d.transactionTimeoutMs,
    ),
    checkpointTopic:
      relay.checkpointTopic === undefined || relay.checkpointTopic === null
        ? relayCheckpointTopic(topicPrefix)
        : topicName(relay.checkpointTopic as string, 'relay.checkpointTopic'),
  };
}

/** The health limits of the relay (run after the other relay options were validated). */
function resolveStallLimits(
  relay: Record<string, unknown>,
): Pick<ResolvedChangeStreamOptions['relay'], 'maxPublishStallMs' | 'maxCheckpointLagMs'> {
  const d = DEFAULTS.relay;
  // NOTE: a healthy relay's checkpoint trails what it read by up to one checkpoint cycle: a lower limit would flap.
  const cycle =
    ((relay.checkpointIntervalMs as number | undefined) ?? d.checkpointIntervalMs) +
    ((relay.maxAwaitTimeMs as number | undefined) ?? d.maxAwaitTimeMs);
  return {
    maxPublishStallMs: optionalInt(
      relay.maxPublishStallMs,
      'relay.maxPublishStallMs',
      100,
      3_600_000,
      d.maxPublishStallMs,
    ),
    maxCheckpointLagMs: optionalInt(
      relay.maxCheckpointLagMs,
      'relay.maxCheckpointLagMs',
      cycle,
      3_600_000,
      Math.max(d.maxCheckpointLagMs, 2 * cycle),
    ),
  };
}

function databaseName(value: unknown, path: string): string {
  const db = name(value, path, 'a database name');
  if (/[/\\. "]/.test(db))
    throw new InvalidOptionsError(path, 'a database name without / \\ . " or spaces', db);
  return db;
}

function resolveStorage(value: unknown): Required<ResolvedChangeStreamOptions['storage']> {
  const storage = section(value, 'storage', false, Object.keys(DEFAULTS.storage)) ?? {};
  const d = DEFAULTS.storage;
  return {
    database:
      storage.database === undefined ? d.database : databaseName(storage.database, 'storage.database'),
    checkpoints:
      storage.checkpoints === undefined
        ? d.checkpoints
        : name(storage.checkpoints, 'storage.checkpoints', 'a collection name'),
    leases:
      storage.leases === undefined ? d.leases : name(storage.leases, 'storage.leases', 'a collection name'),
    processed:
      storage.processed === undefined
        ? d.processed
        : name(storage.processed, 'storage.processed', 'a collection name'),
    offsets:
      storage.offsets === undefined
        ? d.offsets
        : name(storage.offsets, 'storage.offsets', 'a collection name'),
  };
}

function topicName(value: string, path: string): string {
  if (!TOPIC_NAME.test(value))
    throw new InvalidOptionsError(path, 'a Kafka topic name (1-249 letters, digits, ".", "_" or "-")', value);
  return value;
}

function resolvePipeline(value: unknown, path: string): Document[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new InvalidOptionsError(path, 'an array of aggregation stages', value);
  value.forEach((stage, i) => {
    const keys = isObject(stage) ? Object.keys(stage) : [];
    if (keys.length !== 1 || !PIPELINE_STAGES.includes(keys[0])) {
      throw new InvalidOptionsError(
        `${path}[${i}]`,
        `one stage of ${PIPELINE_STAGES.join(', ')}`,
        keys.length === 1 ? keys[0] : stage,
      );
    }
  });
  return value as Document[];
}

function resolveStartTime(value: unknown, path: string): Timestamp | null {
  if (value === undefined) return null;
  if (value instanceof Date && !Number.isNaN(value.getTime()))
    return new Timestamp({ t: Math.floor(value.getTime() / 1000), i: 0 });
  if (value instanceof Timestamp || (isObject(value) && value._bsontype === 'Timestamp'))
    return value as Timestamp;
  throw new InvalidOptionsError(path, 'a BSON Timestamp or a Date', value);
}

/** Namespaces are `db` or `db.coll`; `isExcluded` tells whether a namespace falls under one. */
export function isExcluded(excluded: readonly string[], ns: Partial<Namespace>): boolean {
  return excluded.some(
    (entry) => entry === ns.db || (ns.coll !== undefined && entry === `${ns.db}.${ns.coll}`),
  );
}

function resolveStream(
  value: unknown,
  path: string,
  topicPrefix: string,
  excluded: string[],
): ResolvedStream {
  const stream = section(value, path, true, STREAM_OPTION_KEYS)! as Record<string, unknown> &
    Partial<StreamOptions>;
  const db = databaseName(stream.db, `${path}.db`);
  if (UNWATCHABLE_DATABASES.includes(db))
    throw new InvalidOptionsError(
      `${path}.db`,
      `a database other than ${UNWATCHABLE_DATABASES.join(', ')}`,
      db,
    );
  if (stream.collection !== undefined && stream.collections !== undefined) {
    throw new InvalidOptionsError(
      path,
      'either "collection" or "collections" (or neither, for the whole database)',
      'both',
    );
  }
  let collections: string[] | null = null;
  if (stream.collection !== undefined)
    collections = [name(stream.collection, `${path}.collection`, 'a collection name')];
  if (stream.collections !== undefined) {
    collections = stringList(
      stream.collections,
      `${path}.collections`,
      'collection names',
      (c) => c.length > 0 && !/[\0$]/.test(c),
    );
  }
  collections?.forEach((coll, i) => {
    const where = stream.collection !== undefined ? `${path}.collection` : `${path}.collections[${i}]`;
    if (coll.startsWith('system.'))
      throw new InvalidOptionsError(where, 'a collection that is not a system collection', coll);
    if (isExcluded(excluded, { db, coll }))
      throw new InvalidOptionsError(
        where,
        'a collection that is not excluded (the library\'s own collections and "excludeNamespaces" are never watched)',
        `${db}.${coll}`,
      );
  });
  const operationTypes =
    stream.operationTypes === undefined
      ? null
      : (stringList(
          stream.operationTypes,
          `${path}.operationTypes`,
          `operation types (${OPERATION_TYPES.join(', ')})`,
          (t) => OPERATION_TYPES.includes(t as StreamOperationType),
        ) as StreamOperationType[]);
  const topic = stream.topic;
  if (topic !== undefined && typeof topic !== 'function') topicName(topic as string, `${path}.topic`);
  const topicOf =
    typeof topic === 'function'
      ? (coll: string) => topicName(topic({ db, coll }), `${path}.topic (returned for ${db}.${coll})`)
      : typeof topic === 'string'
        ? () => topic
        : (coll: string) => defaultTopic(topicPrefix, db, coll);
  collections?.forEach((coll) => topicName(topicOf(coll), `${path}.topic (for ${db}.${coll})`));
  const streamName =
    stream.name === undefined ? (collections ? `${db}.${collections.join(',')}` : db) : stream.name;
  if (typeof streamName !== 'string' || streamName.length === 0 || streamName.length > 200) {
    throw new InvalidOptionsError(`${path}.name`, 'a non-empty string of at most 200 characters', streamName);
  }
  return {
    name: streamName,
    db,
    collections,
    pipeline: resolvePipeline(stream.pipeline, `${path}.pipeline`),
    operationTypes,
    fullDocument: optionalOneOf(
      stream.fullDocument,
      `${path}.fullDocument`,
      FULL_DOCUMENT,
      DEFAULTS.stream.fullDocument,
    ),
    fullDocumentBeforeChange: optionalOneOf(
      stream.fullDocumentBeforeChange,
      `${path}.fullDocumentBeforeChange`,
      FULL_DOCUMENT_BEFORE_CHANGE,
      DEFAULTS.stream.fullDocumentBeforeChange,
    ),
    showExpandedEvents: optionalBoolean(
      stream.showExpandedEvents,
      `${path}.showExpandedEvents`,
      DEFAULTS.stream.showExpandedEvents,
    ),
    splitLargeEvents: optionalBoolean(
      stream.splitLargeEvents,
      `${path}.splitLargeEvents`,
      DEFAULTS.stream.splitLargeEvents,
    ),
    startAtOperationTime: resolveStartTime(stream.startAtOperationTime, `${path}.startAtOperationTime`),
    topicOf,
    databaseTopics: collections
      ? [...new Set(collections.map(topicOf))]
      : [
          typeof topic === 'string'
            ? topic
            : topicName(`${topicPrefix}.${db}`, `${path}.db (as a topic name)`),
        ],
  };
}

/**
 * Validates the module options and applies DEFAULTS. Throws InvalidOptionsError naming the first
 * bad option and what it accepts. Runs once, when the module's providers are created.
 */
export function resolveOptions(raw: ChangeStreamModuleOptions): ResolvedChangeStreamOptions {
  const options = section(raw, '', true, ROOT_OPTION_KEYS)! as Record<string, unknown> &
    Partial<ChangeStreamModuleOptions>;
  const listener = optionalBoolean(options.listener, 'listener', DEFAULTS.listener);
  const consumer = optionalBoolean(options.consumer, 'consumer', DEFAULTS.consumer);
  const mongo = resolveMongo(options.mongo);
  const kafka = resolveKafka(options.kafka);
  const redis = resolveRedis(options.redis);
  const lease = resolveLease(options.lease, redis !== null);
  const storage = resolveStorage(options.storage);
  const userExcluded =
    options.excludeNamespaces === undefined
      ? []
      : stringList(options.excludeNamespaces, 'excludeNamespaces', "'db' or 'db.collection' strings", (ns) =>
          /^[^.$\s]+(\..+)?$/.test(ns),
        );
  const excludeNamespaces = [
    ...userExcluded,
    ...[storage.checkpoints, storage.leases, storage.processed, storage.offsets].map(
      (coll) => `${storage.database}.${coll}`,
    ),
  ];

  if (options.streams !== undefined && !Array.isArray(options.streams))
    throw new InvalidOptionsError('streams', 'an array of streams', options.streams);
  const rawStreams = (options.streams ?? []) as unknown[];
  if (listener && rawStreams.length === 0)
    throw new InvalidOptionsError(
      'streams',
      'at least one stream when "listener" is true (or listener: false)',
      options.streams,
    );
  const streams = rawStreams.map((stream, i) =>
    resolveStream(stream, `streams[${i}]`, kafka.topicPrefix, excludeNamespaces),
  );
  const seen = new Map<string, number>();
  streams.forEach((stream, i) => {
    if (seen.has(stream.name))
      throw new InvalidOptionsError(
        `streams[${i}].name`,
        `a name no other stream has (streams[${seen.get(stream.name)}] is also "${stream.name}")`,
        stream.name,
      );
    seen.set(stream.name, i);
  });
  const relay = resolveRelay(options.relay, kafka.topicPrefix);

  return {
    listener,
    consumer,
    mongo,
    kafka,
    redis,
    lease,
    streams,
    onHistoryLost: optionalOneOf(
      options.onHistoryLost,
      'onHistoryLost',
      ['fail', 'resnapshot'] as const,
      DEFAULTS.onHistoryLost,
    ),
    excludeNamespaces,
    storage,
    relay,
    worker: checkDedupe(validateWorkerOptions(options.worker, 'worker'), listener, relay),
  };
}

/**
 * `worker.dedupe: 'offsets'` skips redeliveries of one offset only: a relay of this module that may
 * publish an event twice (at-least-once) would have both copies applied. Refused at start-up.
 */
function checkDedupe(
  worker: ResolvedWorkerOptions,
  listener: boolean,
  relay: Pick<ResolvedChangeStreamOptions['relay'], 'delivery'>,
): ResolvedWorkerOptions {
  if (worker.dedupe === 'offsets' && listener && relay.delivery !== 'exactly-once') {
    throw new InvalidOptionsError(
      'worker.dedupe',
      `'markers' while relay.delivery is '${relay.delivery}' ('offsets' needs relay.delivery 'exactly-once': an at-least-once relay republishes events at new offsets after a failover, and offsets mode would apply both copies)`,
      worker.dedupe,
    );
  }
  return worker;
}

/**
 * The Kafka topic of a collection's events, or undefined when no configured stream watches it.
 * The consumer uses it to subscribe to the right topic for a `@ChangeHandler`'s collection.
 */
export function topicFor(
  options: Pick<ResolvedChangeStreamOptions, 'streams' | 'excludeNamespaces'>,
  db: string,
  coll: string,
): string | undefined {
  if (isExcluded(options.excludeNamespaces, { db, coll })) return undefined;
  const stream = options.streams.find(
    (s) => s.db === db && (s.collections === null || s.collections.includes(coll)),
  );
  return stream?.topicOf(coll);
}
