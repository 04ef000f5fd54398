import type { ChangeOperationType as EventOperationType } from '../events/change-event.interface';
import type { Document, Timestamp } from 'bson';
import type { Redis, RedisOptions } from 'ioredis';
import type { CompressionTypes, Kafka, KafkaConfig, ProducerConfig } from 'kafkajs';
import type { MongoClient, MongoClientOptions } from 'mongodb';
import type { BackoffPolicy } from './backoff.interface';
import type { RelayOptions } from './relay-options.interface';
import type { ResolvedWorkerOptions, WorkerOptions } from './worker-options.interface';

export type { RelayOptions } from './relay-options.interface';

/**
 * Where the library finds MongoDB. Give exactly one of `uri`, `client` or `connection`.
 * The library closes only a client it created from `uri`.
 */
export interface MongoConnectionOptions {
  /** A MongoDB connection string (a replica set or sharded cluster: change streams need one). */
  uri?: string;
  /** Options for the MongoClient created from `uri`. */
  clientOptions?: MongoClientOptions;
  /** An existing MongoClient (yours to close). */
  client?: MongoClient;
  /**
   * An existing mongoose Connection (or anything with `getClient()`); its MongoClient is used, so
   * handler writes and the library's processed markers share one client and one transaction.
   */
  connection?: { getClient(): MongoClient };
}

/**
 * Where the library finds Kafka. Give `brokers` (a kafkajs client is created; `clientId`, `ssl`,
 * `sasl` and the other kafkajs settings pass through) or an existing kafkajs `client`.
 */
export interface KafkaConnectionOptions extends Partial<Omit<KafkaConfig, 'brokers'>> {
  /** Bootstrap brokers, `host:port`. */
  brokers?: string[];
  /** An existing kafkajs `Kafka` instance. */
  client?: Kafka;
  /** Prefix of the default topic names `<topicPrefix>.<db>.<collection>`. Default: `'cdc'`. */
  topicPrefix?: string;
  /**
   * Extra producer settings for the relay. The library always sets `idempotent: true` and
   * `maxInFlightRequests: 1` and sends with `acks: -1` (all in-sync replicas).
   */
  producer?: Omit<ProducerConfig, 'idempotent' | 'maxInFlightRequests' | 'transactionalId'>;
  /** Compression of produced batches. Default: none. */
  compression?: CompressionTypes;
  /**
   * Run the relay's producer (kafkajs encoding and I/O) on its own worker thread, in parallel
   * with reading MongoDB. Default: on whenever possible, that is with `brokers` and settings that can
   * move to another thread (no functions such as a `logCreator` or an OAuth provider); off with
   * `client`. `true` fails at start-up when that is not possible; `false` keeps it in this thread.
   */
  producerThread?: boolean;
}

/** Redis for the Redlock lease: URLs (clients created and closed by the library) or existing ioredis clients. */
export interface RedisConnectionOptions {
  /** One URL per independent Redis server (`redis://host:port`); 3 or 5 for a fault-tolerant quorum. */
  urls?: string[];
  /** Existing ioredis clients, one per independent Redis server (yours to close). */
  clients?: Redis[];
  /** Options for the clients created from `urls`. */
  options?: RedisOptions;
}

/** Leader lease timings and store. Every replica running the relay role campaigns; one leads each stream. */
export interface LeaseOptions {
  /**
   * `'redis'`: Redlock over the `redis` servers. `'mongo'`: a lease document with an expiry in the
   * library database. Default: `'redis'` when `redis` is configured, else `'mongo'`.
   */
  store?: 'redis' | 'mongo';
  /** Lease time-to-live in ms (1 000 to 60 000). Default: 10 000. */
  ttlMs?: number;
  /** Renewal period in ms; must be below `ttlMs - safetyMarginMs`. Default: `ttlMs / 3`. */
  renewIntervalMs?: number;
  /**
   * The leader stops reading and publishing once less than this validity remains without a
   * successful renewal. Default: `max(500, ttlMs / 5)`.
   */
  safetyMarginMs?: number;
  /** A standby retries to acquire every `retryIntervalMs` plus up to `retryJitterMs`. Defaults: 300 and 200. */
  retryIntervalMs?: number;
  retryJitterMs?: number;
  /** Prefix of the Redis lock keys (`<keyPrefix>:<stream name>`). Default: `'nest-change-stream:lease'`. */
  keyPrefix?: string;
}

/** The operation types a change stream reports (every event type but the library's own resnapshot events). */
export type StreamOperationType = Exclude<EventOperationType, LibraryOperationType>;

/** The event types the library publishes itself during a resnapshot: the snapshot events and the run's markers. */
export type LibraryOperationType = 'snapshot' | 'snapshotStart' | 'snapshotEnd';

/** A namespace (`{ db, coll }`) as change events carry it. */
export interface Namespace {
  db: string;
  coll: string;
}

/**
 * One change stream to relay. Give `collection`, `collections`, or neither (the whole database).
 *
 * @example { db: 'shop', collection: 'orders', fullDocument: 'updateLookup' }
 */
export interface StreamOptions {
  /** Stable name of the stream: id of its checkpoint and lease. Default: `<db>`, `<db>.<collection>` or `<db>.<c1>,<c2>`. */
  name?: string;
  /** Database to watch. */
  db: string;
  /** One collection to watch. */
  collection?: string;
  /** Several collections of `db` (one database-level stream filtered to these). */
  collections?: string[];
  /**
   * Extra stages after `$changeStream` ($match, $project, $addFields, $set, $unset, $replaceRoot,
   * $replaceWith, $redact). They must keep `_id` and must not filter out `invalidate` events.
   * Resnapshot runs them on each document shaped as its `insert` event, then renames it `snapshot`:
   * a filter that keeps inserts keeps snapshot events, one that drops inserts drops them (and
   * `operationTypes` likewise). The run's markers do not go through the pipeline.
   */
  pipeline?: Document[];
  /** Only these operation types (invalidate is always kept). Default: all. */
  operationTypes?: StreamOperationType[];
  /** `'default' | 'updateLookup' | 'whenAvailable' | 'required'`. Default: `'default'`. */
  fullDocument?: 'default' | 'updateLookup' | 'whenAvailable' | 'required';
  /** `'off' | 'whenAvailable' | 'required'` (needs changeStreamPreAndPostImages). Default: `'off'`. */
  fullDocumentBeforeChange?: 'off' | 'whenAvailable' | 'required';
  /** Report DDL events (create, createIndexes, ...). Default: false. */
  showExpandedEvents?: boolean;
  /**
   * Append `$changeStreamSplitLargeEvent` as the last stage: MongoDB splits an event over its 16 MB
   * limit into fragments, the relay publishes each as its own message (same key), and consumers
   * reassemble them before dispatch. Needs MongoDB 7.0 or 6.0.9+ (older servers refuse the stage).
   * Off, such an event stops the stream with an error. Default: false.
   */
  splitLargeEvents?: boolean;
  /**
   * Topic for this stream's events: a fixed name, or a function of the namespace.
   * Default: `<kafka.topicPrefix>.<db>.<collection>`.
   */
  topic?: string | ((ns: Namespace) => string);
  /** Where to start when the stream has no checkpoint yet. Default: now. */
  startAtOperationTime?: Timestamp | Date;
}

/** The library's own collections. They are never watched. */
export interface StorageOptions {
  /** Database of the library's collections. Default: `'nest_change_stream'`. */
  database?: string;
  /** Default: `'change_stream_checkpoints'`. */
  checkpoints?: string;
  /** Default: `'change_stream_leases'`. */
  leases?: string;
  /** Default: `'change_stream_processed'`. */
  processed?: string;
  /** The applied offsets of `worker.dedupe: 'offsets'`. Default: `'change_stream_offsets'`. */
  offsets?: string;
}

/**
 * Options of `ChangeStreamModule.forRoot()`.
 *
 * @example
 * ChangeStreamModule.forRoot({
 *   mongo: { uri: process.env.MONGO_URL },
 *   kafka: { brokers: ['kafka:9092'], clientId: 'orders' },
 *   redis: { urls: ['redis://r1:6379', 'redis://r2:6379', 'redis://r3:6379'] },
 *   streams: [{ db: 'shop', collection: 'orders', fullDocument: 'updateLookup' }],
 * })
 */
export interface ChangeStreamModuleOptions {
  /** @deprecated Use `relay: false` to turn the relay role off; this key goes in the next minor version. */
  listener?: boolean;
  /** @deprecated Use `worker: false` to turn the worker role off; this key goes in the next minor version. */
  consumer?: boolean;
  mongo: MongoConnectionOptions;
  kafka: KafkaConnectionOptions;
  /** Needed when `lease.store` is `'redis'`. */
  redis?: RedisConnectionOptions;
  lease?: LeaseOptions;
  /** What to watch. Needed (non-empty) when the relay role is on. */
  streams?: StreamOptions[];
  /**
   * What to do when the checkpoint can no longer be resumed (ChangeStreamHistoryLost 286,
   * InvalidResumeToken 260, ChangeStreamFatalError 280). `'fail'` (default): stop the stream, report
   * unhealthy and log what was lost. `'resnapshot'`: publish every current document as a `snapshot`
   * event, between a `snapshotStart` and a `snapshotEnd` marker on every partition of each topic
   * (so consumers can remove what the run did not see), then stream from the time the scan began.
   * The scan reads the primary at majority, causally after that time; a run cut short (lease lost,
   * shutdown) is resumed by the next leader after the last `_id` Kafka acknowledged.
   */
  onHistoryLost?: 'fail' | 'resnapshot';
  /** More namespaces never to relay, as `'db.collection'` or `'db'` (whole database). */
  excludeNamespaces?: string[];
  storage?: StorageOptions;
  /**
   * The relay role (campaign for the lease, relay change events to Kafka): its settings, or `false`
   * to turn it off in this replica. Default: on, with default settings.
   */
  relay?: RelayOptions | false;
  /**
   * The worker role (a Kafka consumer group dispatching to `@ChangeHandler`s): its settings, or
   * `false` to turn it off in this replica. Default: on, with default settings.
   */
  worker?: WorkerOptions | false;
}

/** Which roles this replica runs (`relay: false` / `worker: false` turn one off). */
export interface ResolvedRoles {
  relay: boolean;
  worker: boolean;
}

/** A stream after validation: defaults applied, name and topics decided. */
export interface ResolvedStream {
  name: string;
  db: string;
  /** null: the whole database. */
  collections: string[] | null;
  pipeline: Document[];
  operationTypes: StreamOperationType[] | null;
  fullDocument: NonNullable<StreamOptions['fullDocument']>;
  fullDocumentBeforeChange: NonNullable<StreamOptions['fullDocumentBeforeChange']>;
  showExpandedEvents: boolean;
  splitLargeEvents: boolean;
  startAtOperationTime: Timestamp | null;
  /** The Kafka topic of a collection of this stream. */
  topicOf(coll: string): string;
  /**
   * Topics of events that name no collection (dropDatabase, and invalidate of a database stream):
   * every collection topic of a stream with `collection(s)`; for a whole-database stream its fixed
   * `topic`, else `<topicPrefix>.<db>`.
   */
  databaseTopics: string[];
}

/** The options after validation, as injected with CHANGE_STREAM_OPTIONS. */
export interface ResolvedChangeStreamOptions {
  /** The roles this replica runs; `relay` and `worker` hold their settings even when a role is off. */
  roles: ResolvedRoles;
  mongo: MongoConnectionOptions;
  kafka: KafkaConnectionOptions & { topicPrefix: string };
  redis: RedisConnectionOptions | null;
  lease: Required<LeaseOptions>;
  streams: ResolvedStream[];
  onHistoryLost: 'fail' | 'resnapshot';
  /** Namespaces never relayed: the user's exclusions plus the library's own collections. */
  excludeNamespaces: string[];
  storage: Required<StorageOptions>;
  relay: Required<Omit<RelayOptions, 'backoff' | 'deadLetterTopic' | 'checkpointTopic'>> & {
    backoff: BackoffPolicy;
    deadLetterTopic: string;
    checkpointTopic: string;
  };
  worker: ResolvedWorkerOptions;
}
