import type { ConsumerConfig } from 'kafkajs';
import { InvalidOptionsError } from '../errors/invalid-options.error';

/**
 * How a failing handler is retried before its message goes to the dead-letter topic. The delay
 * before retry `n` (n >= 1) is `min(maxDelayMs, initialDelayMs * factor^(n-1))`.
 */
export interface RetryPolicy {
  /** Attempts in total, the first one included (1 = no retry). Default 5. */
  attempts: number;
  /** Delay before the first retry. Default 500 ms. */
  initialDelayMs: number;
  /** Upper bound of any delay. Default 30 000 ms. */
  maxDelayMs: number;
  /** Growth of the delay from one retry to the next. Default 2. */
  factor: number;
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
const DEDUPE_MODES: readonly DedupeMode[] = ['markers', 'offsets'];

/**
 * The `worker` section of the module options: how a replica with `consumer: true` consumes the
 * change topics and runs the `@ChangeHandler` methods. Every field is optional; see WORKER_DEFAULTS.
 *
 * @example
 * ChangeStreamModule.forRoot({
 *   consumer: true,
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
   * creates a new consumer in the same group after `min(maxMs, initialMs * 2^n)` halved to doubled
   * by jitter, n counting the failed attempts. Defaults: 1 000 ms to 30 000 ms.
   */
  restartBackoff?: { initialMs?: number; maxMs?: number };
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
  restartBackoff: { initialMs: number; maxMs: number };
  dedupe: DedupeMode;
  kafka: WorkerKafkaOptions;
}

/** Every default of the worker options, in one place. */
export const WORKER_DEFAULTS: Readonly<ResolvedWorkerOptions> = Object.freeze({
  groupId: 'change-stream-workers',
  database: undefined,
  retry: Object.freeze({ attempts: 5, initialDelayMs: 500, maxDelayMs: 30_000, factor: 2 }),
  deadLetterSuffix: '.dlq',
  // NOTE: Kafka's default retention.ms + segment.ms (7 days each): how long a message can stay readable.
  markerRetentionMs: 14 * 24 * 60 * 60 * 1000,
  partitionConcurrency: 4,
  commitIntervalMs: 5_000,
  transaction: true,
  batchSize: 100,
  fromBeginning: true,
  shutdownTimeoutMs: 30_000,
  restartBackoff: Object.freeze({ initialMs: 1_000, maxMs: 30_000 }),
  dedupe: 'markers',
  kafka: Object.freeze({}),
});

const MIN_MARKER_RETENTION_MS = 60_000;
const MAX_BATCH_SIZE = 10_000;

type Check = (value: unknown) => boolean;
const isInteger =
  (min: number): Check =>
  (value) =>
    typeof value === 'number' && Number.isInteger(value) && value >= min;
const isNumber =
  (min: number): Check =>
  (value) =>
    typeof value === 'number' && Number.isFinite(value) && value >= min;
const isNonEmptyString: Check = (value) => typeof value === 'string' && value.trim().length > 0;
const isBoolean: Check = (value) => typeof value === 'boolean';
const isPlainObject: Check = (value) => !!value && typeof value === 'object' && !Array.isArray(value);

/** Rejects keys outside `known` (a typo such as `groupID` would otherwise be ignored silently). */
function rejectUnknownKeys(options: object, known: readonly string[], path: string): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new InvalidOptionsError(
        `${path}.${key}`,
        `no such option (known: ${known.join(', ')})`,
        (options as Record<string, unknown>)[key],
      );
    }
  }
}

/** Returns `value ?? fallback` after checking `value` (when given) with `check`. */
function pick<T>(value: T | undefined, fallback: T, path: string, accepted: string, check: Check): T {
  if (value === undefined) return fallback;
  if (!check(value)) throw new InvalidOptionsError(path, accepted, value);
  return value;
}

/**
 * Validates a retry policy override and merges it over `base`. Used for the worker default and for
 * each handler's `retry` option.
 */
export function resolveRetryPolicy(
  override: Partial<RetryPolicy> | undefined,
  base: RetryPolicy,
  path: string,
): RetryPolicy {
  if (override === undefined) return base;
  if (!isPlainObject(override)) throw new InvalidOptionsError(path, 'an object', override);
  rejectUnknownKeys(override, Object.keys(base), path);
  const policy: RetryPolicy = {
    attempts: pick(override.attempts, base.attempts, `${path}.attempts`, 'an integer >= 1', isInteger(1)),
    initialDelayMs: pick(
      override.initialDelayMs,
      base.initialDelayMs,
      `${path}.initialDelayMs`,
      'a number >= 0',
      isNumber(0),
    ),
    maxDelayMs: pick(
      override.maxDelayMs,
      base.maxDelayMs,
      `${path}.maxDelayMs`,
      'a number >= 0',
      isNumber(0),
    ),
    factor: pick(override.factor, base.factor, `${path}.factor`, 'a number >= 1', isNumber(1)),
  };
  if (policy.maxDelayMs < policy.initialDelayMs) {
    throw new InvalidOptionsError(
      `${path}.maxDelayMs`,
      `a number >= initialDelayMs (${policy.initialDelayMs})`,
      policy.maxDelayMs,
    );
  }
  return policy;
}

/**
 * Merges the `worker` options with WORKER_DEFAULTS and validates them once, at start-up.
 * Throws InvalidOptionsError naming the bad option (`<path>.<field>`) and what it accepts.
 */
export function validateWorkerOptions(
  options: WorkerOptions | undefined,
  path = 'worker',
): ResolvedWorkerOptions {
  if (options === undefined) return { ...WORKER_DEFAULTS, kafka: {} };
  if (!isPlainObject(options)) throw new InvalidOptionsError(path, 'an object', options);
  rejectUnknownKeys(options, Object.keys(WORKER_DEFAULTS), path);
  const d = WORKER_DEFAULTS;
  const kafka = pick<WorkerKafkaOptions>(options.kafka, {}, `${path}.kafka`, 'an object', isPlainObject);
  if ('groupId' in kafka) {
    throw new InvalidOptionsError(
      `${path}.kafka.groupId`,
      `nothing (set ${path}.groupId instead)`,
      (kafka as ConsumerConfig).groupId,
    );
  }
  const dedupe = pick(
    options.dedupe,
    d.dedupe,
    `${path}.dedupe`,
    `one of ${DEDUPE_MODES.map((m) => `'${m}'`).join(', ')}`,
    (value) => DEDUPE_MODES.includes(value as DedupeMode),
  );
  if (dedupe === 'offsets' && kafka.readUncommitted === true) {
    throw new InvalidOptionsError(
      `${path}.kafka.readUncommitted`,
      `false with ${path}.dedupe 'offsets' (an aborted transaction's messages would move the applied offset past events never committed)`,
      kafka.readUncommitted,
    );
  }
  return {
    groupId: pick(options.groupId, d.groupId, `${path}.groupId`, 'a non-empty string', isNonEmptyString),
    database: pick(options.database, d.database, `${path}.database`, 'a non-empty string', isNonEmptyString),
    retry: resolveRetryPolicy(options.retry, d.retry, `${path}.retry`),
    deadLetterSuffix: pick(
      options.deadLetterSuffix,
      d.deadLetterSuffix,
      `${path}.deadLetterSuffix`,
      'a non-empty string',
      isNonEmptyString,
    ),
    markerRetentionMs: pick(
      options.markerRetentionMs,
      d.markerRetentionMs,
      `${path}.markerRetentionMs`,
      `an integer >= ${MIN_MARKER_RETENTION_MS} (one minute), or Infinity (kept forever)`,
      (value) => value === Infinity || isInteger(MIN_MARKER_RETENTION_MS)(value),
    ),
    partitionConcurrency: pick(
      options.partitionConcurrency,
      d.partitionConcurrency,
      `${path}.partitionConcurrency`,
      'an integer >= 1',
      isInteger(1),
    ),
    commitIntervalMs: pick(
      options.commitIntervalMs,
      d.commitIntervalMs,
      `${path}.commitIntervalMs`,
      'an integer >= 0',
      isInteger(0),
    ),
    transaction: pick(options.transaction, d.transaction, `${path}.transaction`, 'a boolean', isBoolean),
    batchSize: pick(
      options.batchSize,
      d.batchSize,
      `${path}.batchSize`,
      'an integer from 1 to 10 000',
      (value) => isInteger(1)(value) && (value as number) <= MAX_BATCH_SIZE,
    ),
    fromBeginning: pick(
      options.fromBeginning,
      d.fromBeginning,
      `${path}.fromBeginning`,
      'a boolean',
      isBoolean,
    ),
    shutdownTimeoutMs: pick(
      options.shutdownTimeoutMs,
      d.shutdownTimeoutMs,
      `${path}.shutdownTimeoutMs`,
      'an integer >= 0',
      isInteger(0),
    ),
    restartBackoff: resolveRestartBackoff(options.restartBackoff, `${path}.restartBackoff`),
    dedupe,
    kafka: { ...kafka },
  };
}

/** Validates `worker.restartBackoff` and fills its defaults. */
function resolveRestartBackoff(
  override: WorkerOptions['restartBackoff'],
  path: string,
): ResolvedWorkerOptions['restartBackoff'] {
  const base = WORKER_DEFAULTS.restartBackoff;
  if (override === undefined) return base;
  if (!isPlainObject(override)) throw new InvalidOptionsError(path, 'an object', override);
  rejectUnknownKeys(override, Object.keys(base), path);
  const initialMs = pick(
    override.initialMs,
    base.initialMs,
    `${path}.initialMs`,
    'an integer >= 1',
    isInteger(1),
  );
  const maxMs = pick(
    override.maxMs,
    Math.max(initialMs, base.maxMs),
    `${path}.maxMs`,
    `an integer >= initialMs (${initialMs})`,
    isInteger(initialMs),
  );
  return { initialMs, maxMs };
}
