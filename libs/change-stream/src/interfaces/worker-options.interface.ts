import type { ConsumerConfig } from 'kafkajs';
import type { BackoffOptions, BackoffPolicy } from './backoff.interface';

/**
 * How a failing handler is retried before its message goes to the dead-letter topic: a
 * {@link BackoffPolicy} (defaults 500 ms, 30 000 ms, factor 2; no jitter: retries of one partition
 * are sequential) and a number of attempts.
 */
export interface RetryPolicy extends BackoffPolicy {
  /** Attempts in total, the first one included (1 = no retry). Default 5. */
  attempts: number;
}

/**
 * kafkajs consumer settings passed through as they are (groupId is set by {@link WorkerOptions.groupId}).
 * `readUncommitted` stays false (read committed) unless set: a read-uncommitted consumer is also handed
 * the messages of Kafka transactions that are still open or were aborted (a fenced relay leader's
 * batch), and applies events that are not in the topic for anyone else; `worker.dedupe: 'offsets'`
 * refuses it.
 */
export type WorkerKafkaOptions = Omit<ConsumerConfig, 'groupId'>;

/** How a worker keeps a redelivered message from taking effect twice: see {@link WorkerOptions.dedupe}. */
export type DedupeMode = 'markers' | 'offsets';

/**
 * The `worker` section of the module options: how a replica running the worker role consumes the
 * change topics and runs the `@ChangeHandler` methods. Every field is optional; see WORKER_DEFAULTS.
 *
 * @example
 * ChangeStreamModule.forRoot({
 *   worker: { groupId: 'orders-read-model', database: 'shop', retry: { attempts: 3 } },
 * })
 */
export interface WorkerOptions {
  /** Kafka consumer group shared by every worker replica. Default `'change-stream-workers'`. */
  groupId?: string;
  /**
   * Database of the collections named in `@ChangeHandler(collection)` when the handler does not set
   * `database` itself. When neither is set, the one watched stream of that collection decides.
   */
  database?: string;
  /** Default retry policy of every handler (a handler may override parts of it). */
  retry?: Partial<RetryPolicy>;
  /** Dead-letter topic of a topic is `<topic><deadLetterSuffix>`. Default `'.dlq'`. */
  deadLetterSuffix?: string;
  /**
   * How long a processed-event marker is kept (TTL index). A redelivery older than this is applied
   * again. Kafka deletes whole segments, so a message stays readable for up to the topic's
   * `retention.ms` + `segment.ms`: the worker reads both at start-up and refuses a shorter value
   * (Kafka's defaults, 7 days + 7 days, need 14 days). Also cover the group's committed-offset
   * retention. `Infinity` keeps markers forever (no TTL index), required for a topic with
   * `retention.ms` -1. Default 14 days. Minimum 60 000 ms.
   */
  markerRetentionMs?: number;
  /** Partitions handled at the same time by one worker (each in order). Default 4. */
  partitionConcurrency?: number;
  /**
   * Within a long batch, resolved offsets are committed at most this often (they are always committed
   * at the end of a batch, on rebalance and on drain). After a crash, at most this much work is
   * redelivered, and the processed markers skip it. Default 5 000 ms.
   */
  commitIntervalMs?: number;
  /**
   * Default of `@ChangeHandler({ transaction })`: run each handler in a MongoDB transaction with its
   * processed-event marker (exactly-once effect). Default true.
   */
  transaction?: boolean;
  /**
   * Up to this many consecutive messages of one partition share one MongoDB transaction: their
   * transactional handlers' writes and all their processed-event markers commit together, in one
   * commit instead of one per message. If the shared transaction fails (a handler throws, a write
   * conflict, a redelivered event), none of it is applied and its messages run one transaction each,
   * with the usual retries and dead letters. The worker shrinks batches after such a failure and
   * keeps a batch's transaction to about 200 ms of handler time. 1 turns sharing off. Default 100.
   *
   * In a shared transaction a handler sees the uncommitted writes of the earlier messages only
   * through `ctx.session`: pass the session to reads as well as writes.
   */
  batchSize?: number;
  /** A new consumer group starts at the earliest retained message (true) or at the end (false). Default true. */
  fromBeginning?: boolean;
  /** Shutdown waits at most this long for the handlers in flight; then it disconnects anyway. Default 30 000 ms. */
  shutdownTimeoutMs?: number;
  /**
   * When kafkajs gives up on the consumer for good (a CRASH event with `restart: false`), the worker
   * creates a new consumer in the same group after this backoff (with jitter), n counting the failed
   * attempts. Defaults: 1 000 ms doubling to 30 000 ms.
   */
  restartBackoff?: BackoffOptions;
  /**
   * How a transactional handler's effect is applied once.
   * - `'markers'` (default): one processed-event marker per (handler, event), unique, written in the
   *   effect's transaction and kept `markerRetentionMs`. Safe whatever produced the topic, duplicates
   *   at other offsets included (an at-least-once relay republishes after a failover).
   * - `'offsets'`: each MongoDB transaction also moves the last applied offset of its partition (one
   *   document per group, topic and partition in `storage.offsets`); messages at or below it are
   *   skipped. One small write per shared transaction, nothing that expires. It dedupes redeliveries
   *   of the same offset only, so the topic must be written exactly once: by a relay with
   *   `relay.delivery: 'exactly-once'`, read committed. Refused with `relay.delivery:
   *   'at-least-once'` in the same module and with `kafka.readUncommitted: true`. Handlers with
   *   `transaction: false` keep their markers (their effects are outside MongoDB's transaction).
   */
  dedupe?: DedupeMode;
  /** kafkajs consumer settings (sessionTimeout, heartbeatInterval, maxWaitTimeInMs, ...). */
  kafka?: WorkerKafkaOptions;
}

/** The worker options after defaults and validation. */
export interface ResolvedWorkerOptions {
  groupId: string;
  database: string | undefined;
  retry: RetryPolicy;
  deadLetterSuffix: string;
  markerRetentionMs: number;
  partitionConcurrency: number;
  commitIntervalMs: number;
  transaction: boolean;
  batchSize: number;
  fromBeginning: boolean;
  shutdownTimeoutMs: number;
  restartBackoff: BackoffPolicy;
  dedupe: DedupeMode;
  kafka: WorkerKafkaOptions;
}
