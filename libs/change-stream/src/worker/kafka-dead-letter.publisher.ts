import { Inject, Injectable } from '@nestjs/common';
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import { CHANGE_STREAM_KAFKA, CHANGE_STREAM_OPTIONS } from '../change-stream.constants';
import type { WorkerModuleOptions } from './worker-module-options';
import { DeadLetterSink, deadLetterRecord, type DeadLetter, type DeadLetterCount } from './dead-letter';

/**
 * Publishes dead letters to `<topic><worker.deadLetterSuffix>` and waits for all in-sync replicas.
 * Counts what it stored, by reason and handler: every dead letter of the worker goes through here,
 * so the count (change_stream_dead_letters_total) misses none. Internal.
 */
@Injectable()
export class KafkaDeadLetterPublisher extends DeadLetterSink {
  private producer: Producer | undefined;
  private readonly stored = new Map<string, DeadLetterCount>();

  constructor(
    @Inject(CHANGE_STREAM_KAFKA) private readonly kafka: Kafka,
    @Inject(CHANGE_STREAM_OPTIONS) private readonly options: WorkerModuleOptions,
  ) {
    super();
  }

  async connect(): Promise<void> {
    this.producer ??= this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: true,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await this.producer.connect();
  }

  async send(letter: DeadLetter): Promise<void> {
    if (!this.producer) throw new Error('the dead-letter producer is not connected');
    const { topic, message } = deadLetterRecord(letter, {
      suffix: this.options.worker.deadLetterSuffix,
      groupId: this.options.worker.groupId,
    });
    await this.producer.send({ topic, messages: [message], acks: -1 });
    this.count(letter);
  }

  /** Dead letters stored since start, by reason and handler, in the order first seen. */
  counts(): DeadLetterCount[] {
    return [...this.stored.values()].map((entry) => ({ ...entry }));
  }

  private count({ reason, handlerId = '' }: DeadLetter): void {
    const key = `${reason}\n${handlerId}`;
    const entry = this.stored.get(key) ?? { reason, handler: handlerId, count: 0 };
    entry.count++;
    this.stored.set(key, entry);
  }

  async disconnect(): Promise<void> {
    await this.producer?.disconnect();
    this.producer = undefined;
  }
}
