import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Partitioners, type IHeaders, type Kafka, type KafkaMessage, type Producer } from 'kafkajs';
import { CHANGE_STREAM_KAFKA, CHANGE_STREAM_OPTIONS } from '../change-stream.constants';
import { decodeChangeEvent } from '../events/change-event.codec';
import { ProcessedEventStore } from '../idempotency/processed-event.store';
import { headersAsStrings } from './change-message';
import type { WorkerModuleOptions } from './worker-module-options';
import { describeError } from './dead-letter';
import { DEAD_LETTER_HEADERS as H } from './dead-letter.headers';

/** Header of a re-driven message: `<dead-letter topic>[<partition>]@<offset>` it was re-driven from. */
export const REDRIVEN_FROM_HEADER = 'cdc-redriven-from';

/** What to re-drive. */
export interface RedriveOptions {
  /** The dead-letter topic, e.g. `cdc.shop.orders.dlq`. */
  topic: string;
  /** Only the letters of this handler id. Default: every handler's. */
  handlerId?: string;
}

/** What a re-drive did with the letters the dead-letter topic held when it started. */
export interface RedriveReport {
  /** Letters read. */
  read: number;
  /** Letters published back to the topic they came from. */
  redriven: number;
  /**
   * Letters left alone: undecodable ones (nothing can apply them), other handlers' (with `handlerId`),
   * repeats of a letter already re-driven in this run, and those whose event the handler has applied
   * since (an earlier re-drive).
   */
  skipped: number;
}

/** The partitions of a topic that hold messages, with the offset just past the last one. */
type Ends = Map<number, bigint>;

/** One re-drive: its options, its producer, and the (handler, event) pairs it has seen. */
interface RedriveRun {
  options: RedriveOptions;
  producer: Producer;
  seen: Set<string>;
}

/**
 * Re-drives a dead-letter topic: publishes each `handler-failed` letter back to the topic it came
 * from (original key, value and headers) after removing the handler's `dead-lettered` marker, so
 * the handler runs the event again. This deliberately bypasses the marker that keeps replays of a
 * dead-lettered event from being applied after newer events: a re-driven event IS applied after the
 * newer events of its document, so re-drive only what the handler can apply late (e.g. it compares
 * versions). Reads the letters present when it starts, in a consumer group of its own that it deletes
 * afterwards; running it again skips the letters whose event was applied since. `npm run dlq:redrive`
 * wraps it.
 *
 * @example
 * const report = await app.get(DeadLetterRedriver).redrive({ topic: 'cdc.shop.orders.dlq' });
 */
@Injectable()
export class DeadLetterRedriver {
  private readonly logger = new Logger('ChangeStream');

  constructor(
    @Inject(CHANGE_STREAM_KAFKA) private readonly kafka: Kafka,
    @Inject(CHANGE_STREAM_OPTIONS) private readonly options: WorkerModuleOptions,
    private readonly store: ProcessedEventStore,
  ) {}

  /** Re-drives the letters in `options.topic` now; resolves when each one was re-driven or skipped. */
  async redrive(options: RedriveOptions): Promise<RedriveReport> {
    const report: RedriveReport = { read: 0, redriven: 0, skipped: 0 };
    const ends = await this.endsOf(options.topic);
    if (ends.size === 0) return report;
    const producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    const run: RedriveRun = { options, producer, seen: new Set() };
    try {
      await this.readUpTo(options.topic, ends, async (message, partition) => {
        report.read++;
        report[await this.redriveOne(message, partition, run)]++;
      });
    } finally {
      await producer.disconnect();
    }
    this.logger.log(
      `re-drove ${options.topic}: ${report.redriven} of ${report.read} letter(s) published back, ${report.skipped} skipped`,
    );
    return report;
  }

  private async endsOf(topic: string): Promise<Ends> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      return new Map(
        offsets.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high)]),
      );
    } finally {
      await admin.disconnect();
    }
  }

  /** Reads every partition of `topic` from its start up to `ends` (excluded), one message at a time. */
  private async readUpTo(
    topic: string,
    ends: Ends,
    each: (message: KafkaMessage, partition: number) => Promise<void>,
  ): Promise<void> {
    const groupId = `${this.options.worker.groupId}.redrive.${randomBytes(4).toString('hex')}`;
    const consumer = this.kafka.consumer({ ...this.options.worker.kafka, groupId });
    const pending = new Map(ends);
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        consumer
          .run({
            autoCommit: false,
            eachBatch: async ({ batch, heartbeat }) => {
              try {
                for (const message of batch.messages) {
                  const end = pending.get(batch.partition);
                  if (end === undefined || BigInt(message.offset) >= end) break;
                  await each(message, batch.partition);
                  if (BigInt(message.offset) + 1n >= end) pending.delete(batch.partition);
                  await heartbeat();
                }
                if (pending.size === 0) resolve();
              } catch (error) {
                // NOTE: stop instead of letting kafkajs run the batch again, which would publish letters twice.
                reject(error as Error);
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
      await this.deleteGroup(groupId);
    }
  }

  private async redriveOne(
    message: KafkaMessage,
    partition: number,
    { options, producer, seen }: RedriveRun,
  ): Promise<'redriven' | 'skipped'> {
    const headers = headersAsStrings(message.headers);
    const handlerId = headers[H.handler];
    const origin = headers[H.topic];
    if (headers[H.reason] !== 'handler-failed' || !handlerId || !origin) return 'skipped';
    if (options.handlerId !== undefined && handlerId !== options.handlerId) return 'skipped';
    const { eventId } = decodeChangeEvent(message.value, message.headers ?? {});
    const key = `${handlerId}\n${eventId}`;
    if (seen.has(key)) return 'skipped';
    seen.add(key);
    const outcome = await this.store.outcomeOf(handlerId, eventId);
    // NOTE: the handler applied the event since (an earlier re-drive): publishing it again would change nothing.
    if (outcome === 'applied') return 'skipped';
    if (outcome === 'dead-lettered') await this.store.removeDeadLettered(handlerId, eventId);
    await producer.send({
      topic: origin,
      acks: -1,
      messages: [
        {
          key: message.key,
          value: message.value,
          headers: {
            ...originalHeaders(message.headers ?? {}),
            [REDRIVEN_FROM_HEADER]: `${options.topic}[${partition}]@${message.offset}`,
          },
        },
      ],
    });
    return 'redriven';
  }

  private async deleteGroup(groupId: string): Promise<void> {
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      await admin.deleteGroups([groupId]);
    } catch (error) {
      this.logger.warn(`could not delete the re-drive group ${groupId}: ${describeError(error)}`);
    } finally {
      await admin.disconnect();
    }
  }
}

/** The message's headers without the ones dead-lettering added. */
function originalHeaders(headers: IHeaders): IHeaders {
  const added = new Set<string>(Object.values(H));
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !added.has(name)));
}
