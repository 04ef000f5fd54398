import type { LoggerService } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import { MESSAGES } from '../change-stream.messages';
import { KafkaRefusedError } from '../errors/kafka-refused.error';
import { ProducerFencedError } from '../errors/producer-fenced.error';
import { relayTransactionalId } from '../options/routing';
import type { ResolvedChangeStreamOptions } from '../interfaces/change-stream-options.interface';
import type { EventPublisher, TransactionalSettings } from '../publisher/event-publisher';
import { producerFenced, transactionSetupFault } from '../publisher/kafka-errors';
import type { CheckpointRecord } from '../publisher/outgoing-message';
import type { StreamPosition } from './checkpoint.store';
import { decodeCheckpointRecord, encodeCheckpointRecord } from './checkpoint-record';
import { CheckpointReader, ensureCheckpointTopic, takeoverMarkerKey } from './checkpoint-topic';
import { randomBytes } from 'node:crypto';

/**
 * One stream's exactly-once delivery (`relay.delivery: 'exactly-once'`): its transactional
 * settings, its checkpoint records, and the takeover that fences the previous producer and reads
 * the checkpoint committed with the last events.
 *
 * Which checkpoint wins: the checkpoint topic's, which commits atomically with the events. The
 * MongoDB checkpoint document is a mirror written after the commits (health, metrics), and the start
 * only while the topic holds no record of the stream (a first start, or the first switch from
 * at-least-once).
 */
export class ExactlyOnceRelay {
  readonly transactional: TransactionalSettings;
  private readonly reader: CheckpointReader;
  private topicReady: Promise<void> | null = null;

  constructor(
    private readonly stream: string,
    private readonly options: ResolvedChangeStreamOptions,
    private readonly kafka: Kafka,
    private readonly logger: LoggerService,
    /** The stream's event topics (named in ACL errors). */
    private readonly topics: () => readonly string[],
  ) {
    this.transactional = {
      transactionalId: relayTransactionalId(options.kafka.topicPrefix, stream),
      transactionTimeout: options.relay.transactionTimeoutMs,
    };
    this.reader = new CheckpointReader(kafka, options.relay.checkpointTopic, stream);
  }

  /** Creates or checks the checkpoint topic and joins the reader (while standing by; errors are retried by takeOver). */
  prepare(): void {
    this.ready().catch(() => undefined);
  }

  async stop(): Promise<void> {
    await this.reader.stop();
  }

  /** The checkpoint record of `position`, written by the leader of `epoch`. */
  record(epoch: number, position: StreamPosition): CheckpointRecord {
    return encodeCheckpointRecord(this.options.relay.checkpointTopic, this.stream, epoch, position);
  }

  /**
   * Fences the stream's previous producer (InitProducerId: its open transaction is aborted, its
   * later sends fail), commits a takeover marker, and reads the stream's last committed checkpoint
   * up to that marker; null when the topic has none. Throws the classified error of a fenced
   * producer or a broker without transactions (the marker's commit also proves the ACLs on the topic).
   */
  async takeOver(
    publisher: EventPublisher,
    epoch: number,
    signal: AbortSignal,
  ): Promise<StreamPosition | null> {
    const value = await this.fenceAndRead(publisher, epoch, signal);
    return value === null ? null : decodeCheckpointRecord(value).position;
  }

  /** After a failed transaction: whether it committed after all (the topic's last checkpoint is `record`). */
  async committed(publisher: EventPublisher, record: CheckpointRecord, epoch: number, signal: AbortSignal) {
    return (await this.fenceAndRead(publisher, epoch, signal)) === record.value;
  }

  /** Throws the error a transactional failure stands for: fenced (term ends), or a setup the operator must fix. */
  classify(error: unknown, epoch: number): void {
    const fenced = producerFenced(error);
    if (fenced) throw new ProducerFencedError(this.stream, epoch, fenced, error);
    const fault = transactionSetupFault(error, {
      transactionalId: this.transactional.transactionalId,
      topics: [...this.topics(), this.options.relay.checkpointTopic],
      checkpointTopic: this.options.relay.checkpointTopic,
      transactionTimeoutMs: this.transactional.transactionTimeout,
    });
    if (!fault) return;
    const message = MESSAGES.transactionSetup(this.stream, fault, error);
    if (fault.stop) throw new KafkaRefusedError(this.stream, fault.type, message, error);
    this.logger.error(message);
    throw new Error(message, { cause: error });
  }

  private async fenceAndRead(publisher: EventPublisher, epoch: number, signal: AbortSignal) {
    const marker = {
      topic: this.options.relay.checkpointTopic,
      key: takeoverMarkerKey(this.stream),
      value: `${epoch}:${randomBytes(6).toString('hex')}`,
      headers: {},
    };
    try {
      await this.ready();
      await publisher.fence();
      await publisher.send({ count: 0, parts: [] }, marker);
    } catch (error) {
      this.classify(error, epoch);
      throw error;
    }
    return this.reader.readThrough(marker.value, signal);
  }

  private ready(): Promise<void> {
    this.topicReady ??= ensureCheckpointTopic(
      this.kafka,
      this.options.relay.checkpointTopic,
      this.logger,
    ).catch((error) => {
      this.topicReady = null;
      throw error;
    });
    return this.topicReady.then(() => this.reader.start());
  }
}
