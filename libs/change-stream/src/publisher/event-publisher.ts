import type { PackedBatch } from './outgoing-message';

/**
 * What the relay needs from a Kafka producer: `send` resolves only when Kafka acknowledged every
 * message in it (acks from all in-sync replicas, idempotent, per-partition order kept).
 * Implemented in this thread ({@link KafkaPublisher}) or on a producer thread
 * ({@link ThreadedKafkaPublisher}).
 */
export interface EventPublisher {
  /** Connects (once; a failed attempt can be retried). */
  connect(): Promise<void>;
  /** Sends the messages in order and resolves when all are acknowledged. */
  send(batch: PackedBatch): Promise<void>;
  /** Drops the producer after a failed send (the retry gets a new producer id and fresh sequences). */
  reset(): Promise<void>;
  /** Disconnects and frees everything (safe to call more than once). */
  disconnect(): Promise<void>;
}
