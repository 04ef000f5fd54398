import type { BackoffOptions } from './backoff.interface';

/** Relay tuning: batching, backpressure, checkpoints and retries. */
export interface RelayOptions {
  /** Largest number of events in one Kafka sendBatch, and the change-stream cursor batch size. Default: 500. */
  batchSize?: number;
  /** Most events read but not yet acknowledged by Kafka; the stream pauses at this bound. Default: 5 000. */
  maxInFlightEvents?: number;
  /** Most encoded bytes read but not yet acknowledged by Kafka. Default: 32 MiB. */
  maxInFlightBytes?: number;
  /** How long a getMore waits for new events (and so how often an idle stream's token advances). Default: 1 000 ms. */
  maxAwaitTimeMs?: number;
  /** Least time between two checkpoint writes while events flow. Default: 1 000 ms. */
  checkpointIntervalMs?: number;
  /** Backoff (with jitter) after errors the driver does not resume and after failed Kafka sends. Defaults: 100 ms doubling to 30 000 ms. */
  backoff?: BackoffOptions;
  /** How long graceful shutdown may spend flushing before it gives up (unacknowledged events replay later). Default: 5 000 ms. */
  shutdownTimeoutMs?: number;
  /**
   * Health is DOWN ("publish stalled since …, N consecutive failures") once a send, or the
   * producer's connection, has waited longer than this for Kafka. An idle leader waits on nothing.
   * Default: 15 000 ms (longer than a partition leader failover, shorter than an outage to report).
   */
  maxPublishStallMs?: number;
  /**
   * Health is DOWN ("checkpoint lag X s") once an event read has waited longer than this for its
   * checkpoint (Kafka refusing it, checkpoint writes failing). At least `checkpointIntervalMs +
   * maxAwaitTimeMs`. Default: 30 000 ms, or twice that sum when larger.
   */
  maxCheckpointLagMs?: number;
  /**
   * Most bytes of one Kafka batch. The relay also reads the topics' `max.message.bytes` (and the
   * brokers' `message.max.bytes`) at the start of each leadership term and keeps batches below the
   * smaller. Default: 8 MiB.
   */
  maxBatchBytes?: number;
  /**
   * What to do with a change event the relay cannot publish: its topic cannot be decided (a `topic`
   * function threw) or is not a valid Kafka topic name, or it is larger than the largest batch Kafka
   * takes. `'fail'` (default): stop the stream with an error naming the event id, namespace and
   * reason; health reports DOWN; the checkpoint stays before the event. `'deadLetter'`: send a
   * record with the reason, event id, namespace and document key (never the event itself) to
   * `deadLetterTopic`, then go on. Never skipped silently.
   */
  onUnpublishable?: 'fail' | 'deadLetter';
  /** Topic of the relay's dead-letter records. Default: `<kafka.topicPrefix>-relay.dlq`. */
  deadLetterTopic?: string | null;
  /**
   * `'at-least-once'` (default): idempotent sends; after a failover the new leader may republish
   * events the old one had not checkpointed (the library's workers apply them once through markers).
   * `'exactly-once'`: each batch is one Kafka transaction holding its events and the stream's
   * checkpoint record (in `checkpointTopic`); a new leader's InitProducerId fences the old producer,
   * and it resumes from the checkpoint committed with the events. Read-committed consumers see each
   * event once. Needs brokers with transactions (transaction.state.log.replication.factor <= brokers)
   * and, with ACLs, WRITE and DESCRIBE on TransactionalId `<kafka.topicPrefix>-relay.<stream>`.
   */
  delivery?: 'at-least-once' | 'exactly-once';
  /**
   * Kafka's transaction timeout in exactly-once mode: an open transaction of a leader that died is
   * aborted by the broker after it (or at once by the next leader's InitProducerId); until then
   * read-committed consumers of its partitions wait. At most the brokers'
   * `transaction.max.timeout.ms`. Default: 60 000 ms.
   */
  transactionTimeoutMs?: number;
  /** Compacted topic of the exactly-once checkpoints, keyed by stream. Default: `<kafka.topicPrefix>-relay.checkpoints`. */
  checkpointTopic?: string | null;
}
