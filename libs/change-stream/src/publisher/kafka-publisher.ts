import {
  CompressionTypes,
  type Kafka,
  type Producer,
  type ProducerConfig,
  type TopicMessages,
} from 'kafkajs';
import type { EventPublisher, TransactionalSettings } from './event-publisher';
import { explicitPartitioner } from './explicit-partitioner';
import { murmur2Partitioner } from './murmur2-partitioner';
import { unpackBatch, type CheckpointRecord, type PackedBatch, type WireMessage } from './outgoing-message';

/** acks from all in-sync replicas. */
const ACKS_ALL = -1;

/**
 * The relay's Kafka producer: idempotent, one request in flight per broker (so retries keep
 * per-partition order), `acks: all`, one sendBatch per relay batch. `send` resolves only when Kafka
 * acknowledged every message in it. With `transactional` settings each send is one transaction
 * (the batch and the stream's checkpoint record), committed before `send` resolves.
 */
export class KafkaPublisher implements EventPublisher {
  private producer: Producer | null = null;
  private connecting: Promise<Producer> | null = null;
  /** Set by {@link abort}: no producer is connected again. */
  private aborted = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly config: Omit<
      ProducerConfig,
      'idempotent' | 'maxInFlightRequests' | 'transactionalId'
    > = {},
    private readonly compression: CompressionTypes = CompressionTypes.None,
    private readonly transactional: TransactionalSettings | null = null,
  ) {}

  /** Connects the producer (once; a failed attempt can be retried). */
  async connect(): Promise<void> {
    await this.connected();
  }

  /** Connects and, when transactional, fences the previous holder of the transactional id (see EventPublisher). */
  async fence(): Promise<void> {
    const producer = await this.connected();
    if (!this.transactional) return;
    // NOTE: kafkajs sends InitProducerId with the transactional id on the first transaction(), not on
    // connect(); a transaction that added nothing aborts without a request.
    const transaction = await producer.transaction();
    await transaction.abort();
  }

  /** Sends a packed batch in order and resolves when all of it is acknowledged (or committed, with `checkpoint`). */
  async send(batch: PackedBatch, checkpoint?: CheckpointRecord): Promise<void> {
    if (batch.count === 0 && !checkpoint) return;
    await this.sendMessages(unpackBatch(batch), checkpoint);
  }

  /** Sends the messages in order (grouped by topic) and resolves when all are acknowledged (or committed). */
  async sendMessages(messages: readonly WireMessage[], checkpoint?: WireMessage): Promise<void> {
    if (this.transactional) return this.sendTransaction(messages, checkpoint);
    if (messages.length === 0) return;
    const producer = await this.connected();
    await producer.sendBatch({
      acks: ACKS_ALL,
      compression: this.compression,
      topicMessages: groupByTopic(messages),
    });
  }

  /** One transaction: the messages and the checkpoint record, committed; aborted (if it can be) on error. */
  private async sendTransaction(messages: readonly WireMessage[], checkpoint?: WireMessage): Promise<void> {
    const producer = await this.connected();
    const transaction = await producer.transaction();
    try {
      await transaction.sendBatch({
        acks: ACKS_ALL,
        compression: this.compression,
        topicMessages: groupByTopic(checkpoint ? [...messages, checkpoint] : messages),
      });
      await transaction.commit();
    } catch (error) {
      // NOTE: a failed commit cannot be aborted (kafkajs' state is COMMITTING): the caller resets the
      // producer, and the next InitProducerId makes the broker finish or abort what is open.
      if (transaction.isActive()) await transaction.abort().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Drops the producer after a failed send, so the retry starts with a new producer id and fresh
   * sequence numbers instead of a sequence the broker may consider out of order.
   */
  async reset(): Promise<void> {
    await this.disconnect();
  }

  /**
   * Disconnects. NOTE: kafkajs gives no way to cancel a send: one still retrying may reconnect and
   * go on within `kafka.retry`. The producer thread (the default) does not have this limit.
   */
  async abort(): Promise<void> {
    this.aborted = true;
    await this.disconnect();
  }

  async disconnect(): Promise<void> {
    const pending = this.connecting;
    this.producer = null;
    this.connecting = null;
    const producer = await pending?.catch(() => null);
    await producer?.disconnect().catch(() => undefined);
  }

  private connected(): Promise<Producer> {
    if (this.aborted) return Promise.reject(new Error('producer stopped'));
    if (this.producer) return Promise.resolve(this.producer);
    if (!this.connecting) {
      const attempt = this.open();
      this.connecting = attempt;
      attempt.then(
        (producer) => {
          // NOTE: a disconnect() during the attempt already took it over and disconnects it.
          if (this.connecting === attempt) this.producer = producer;
        },
        () => {
          if (this.connecting === attempt) this.connecting = null;
        },
      );
    }
    return this.connecting;
  }

  private async open(): Promise<Producer> {
    const producer = this.kafka.producer({
      allowAutoTopicCreation: true,
      ...this.config,
      // NOTE: the Java-compatible murmur2 partitioner by default: a key lands where other Kafka
      // clients put it. Resnapshot markers name their partition (see explicitPartitioner).
      createPartitioner: explicitPartitioner(this.config.createPartitioner ?? murmur2Partitioner),
      idempotent: true,
      maxInFlightRequests: 1,
      ...(this.transactional ?? {}),
    });
    try {
      await producer.connect();
      return producer;
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
  }
}

/** Groups messages by topic, keeping their order within each topic (and so within each partition). */
export function groupByTopic(messages: readonly WireMessage[]): TopicMessages[] {
  const byTopic = new Map<string, TopicMessages>();
  for (const { topic, key, value, headers } of messages) {
    let entry = byTopic.get(topic);
    if (!entry) byTopic.set(topic, (entry = { topic, messages: [] }));
    entry.messages.push({ key, value, headers });
  }
  return [...byTopic.values()];
}
