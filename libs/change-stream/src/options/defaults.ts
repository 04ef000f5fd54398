/** Every default of the library, in one place: the options' and the internal timings'. */
import type { ResolvedWorkerOptions } from '../interfaces/worker-options.interface';

/**
 * Every default of the module, in one place. Lease renewal and safety margin are derived from the
 * TTL (`ttlMs / 3` and `max(500, ttlMs / 5)`) unless set.
 */
export const DEFAULTS = {
  roles: { relay: true, worker: true },
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
    backoff: { initialDelayMs: 100, maxDelayMs: 30_000, factor: 2 },
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

/** Every default of the worker options (the `worker` section). */
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
  restartBackoff: Object.freeze({ initialDelayMs: 1_000, maxDelayMs: 30_000, factor: 2 }),
  dedupe: 'markers',
  kafka: Object.freeze({}),
});

/** A lease campaign round that failed backs off from `lease.retryIntervalMs`, doubling up to this. */
export const LEASE_FAILURE_MAX_DELAY_MS = 30_000;

/** Backoff of dead-letter publishing and marker writes, retried until they succeed or the worker drains. */
export const DEAD_LETTER_BACKOFF = Object.freeze({ initialDelayMs: 500, maxDelayMs: 30_000, factor: 2 });

/** kafkajs' own default of `worker.kafka.heartbeatInterval`: how often a long handler run heartbeats. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 3_000;
