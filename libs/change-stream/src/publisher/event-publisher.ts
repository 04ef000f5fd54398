import type { CheckpointRecord, PackedBatch } from './outgoing-message';

/**
 * What the relay needs from a Kafka producer: `send` resolves only when Kafka acknowledged every
 * message in it (acks from all in-sync replicas, idempotent, per-partition order kept).
 * Implemented in this thread ({@link KafkaPublisher}) or on a producer thread
 * ({@link ThreadedKafkaPublisher}).
 */
export interface EventPublisher {
  /** Connects (once; a failed attempt can be retried). */
  connect(): Promise<void>;
  /**
   * Sends the messages in order and resolves when all are acknowledged. A transactional publisher
   * (relay.delivery 'exactly-once') sends them and `checkpoint` in one Kafka transaction and resolves
   * once it committed; on any error it aborts the transaction (when it still can) and rejects.
   */
  send(batch: PackedBatch, checkpoint?: CheckpointRecord): Promise<void>;
  /**
   * Connects and, when transactional, registers the `transactional.id` with Kafka (InitProducerId):
   * the broker bumps the id's epoch, which fences its previous holder and aborts (or completes) its
   * open transaction. NOTE: connect() alone never does this, so a spare may connect while standing by.
   */
  fence(): Promise<void>;
  /** Drops the producer after a failed send (the retry gets a new producer id and fresh sequences). */
  reset(): Promise<void>;
  /** Disconnects and frees everything (safe to call more than once). */
  disconnect(): Promise<void>;
  /**
   * Stops at once after a lost term, without a graceful disconnect: a send still in flight (kafkajs
   * retries inside) must not go on under a term that ended. The producer thread is terminated, and
   * its sockets die with it; in this thread the producer is disconnected. Pending sends reject; the
   * publisher cannot be used again (the next term takes a new one). Safe to call more than once.
   */
  abort(): Promise<void>;
}

/** The exactly-once relay's producer settings: its stream's `transactional.id` and the transaction timeout. */
export interface TransactionalSettings {
  transactionalId: string;
  transactionTimeout: number;
}
