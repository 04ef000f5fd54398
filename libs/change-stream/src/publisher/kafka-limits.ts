import type { LoggerService } from '@nestjs/common';
import { ConfigResourceTypes, type Kafka } from 'kafkajs';
import type {
  ResolvedChangeStreamOptions,
  ResolvedStream,
} from '../interfaces/change-stream-options.interface';
import { streamTopics, type OutgoingMessage } from './outgoing-message';

/**
 * Bytes a record batch adds to its records (v2 header), and the most a record adds to its key,
 * value and headers (varint lengths, attributes, timestamp and offset deltas): upper bounds, so an
 * estimate is never below what the broker measures. Compression only makes batches smaller.
 */
export const BATCH_OVERHEAD_BYTES = 61;
export const RECORD_OVERHEAD_BYTES = 40;
export const HEADER_OVERHEAD_BYTES = 10;

/** Kafka's default `message.max.bytes`: used when the brokers' settings cannot be read. */
export const KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

/** At most the bytes `messages` take in a record batch (without the batch header). */
export function recordBytes(messages: readonly OutgoingMessage[]): number {
  let size = 0;
  for (const m of messages) {
    size += RECORD_OVERHEAD_BYTES + Buffer.byteLength(m.key) + Buffer.byteLength(m.value);
    for (const name in m.headers)
      size += HEADER_OVERHEAD_BYTES + Buffer.byteLength(name) + Buffer.byteLength(m.headers[name]);
  }
  return size;
}

/**
 * True when `messages` fit in `maxBytes` of records even at 3 UTF-8 bytes per UTF-16 unit: no need
 * to measure their bytes (Buffer.byteLength of every field) for an event far below the limit.
 */
export function surelyFits(messages: readonly OutgoingMessage[], maxBytes: number): boolean {
  let units = 0;
  let overhead = 0;
  for (const m of messages) {
    units += m.key.length + m.value.length;
    overhead += RECORD_OVERHEAD_BYTES;
    for (const name in m.headers) {
      units += name.length + m.headers[name].length;
      overhead += HEADER_OVERHEAD_BYTES;
    }
  }
  return overhead + 3 * units <= maxBytes;
}

/** The largest record batch the relay sends: what the stream's topics and brokers take, at most `cap`. */
export interface BatchLimits {
  /** Bytes of one batch's records at most (the batch header already taken off). */
  maxBatchBytes: number;
}

/** What else decides the limit besides the named topics. */
export interface TopicScope {
  /** More topics may appear as events come (a whole-database stream): they get the brokers' default. */
  openEnded?: boolean;
}

/**
 * Reads the largest record batch Kafka takes for `topics`: the smallest of the existing topics'
 * `max.message.bytes` (a topic's own setting overrides the brokers') and, when a topic is yet to be
 * created (`topics` names one that does not exist, or `scope.openEnded`), the brokers'
 * `message.max.bytes`, which auto-created topics get; `cap` (relay.maxBatchBytes) on top. When the
 * settings cannot be read, Kafka's default, with a warning: a smaller topic setting then shows as a
 * refused batch, which stops the stream loudly.
 */
export async function readBatchLimits(
  kafka: Kafka,
  topics: (existing: string[]) => string[],
  cap: number,
  logger: LoggerService,
  scope: TopicScope = {},
): Promise<BatchLimits> {
  let limit = KAFKA_DEFAULT_MAX_MESSAGE_BYTES;
  try {
    limit = await smallestMaxMessageBytes(kafka, topics, scope);
  } catch (error) {
    logger.warn(
      `Kafka topic limits not read (${(error as Error).message}); batches stay under ${limit} bytes (Kafka's default message.max.bytes)`,
    );
  }
  return { maxBatchBytes: Math.min(limit, cap) - BATCH_OVERHEAD_BYTES };
}

/** The largest batch the topics of `stream` take (read each term: topic settings may change). */
export function streamBatchLimits(
  kafka: Kafka,
  stream: ResolvedStream,
  options: Pick<ResolvedChangeStreamOptions, 'kafka' | 'relay'>,
  logger: LoggerService,
): Promise<BatchLimits> {
  const prefix = `${options.kafka.topicPrefix}.${stream.db}.`;
  const topics = (existing: string[]) => [
    ...streamTopics(stream),
    options.relay.deadLetterTopic,
    // NOTE: a whole-database stream's topics are known only as events come: its existing ones count.
    ...(stream.collections ? [] : existing.filter((topic) => topic.startsWith(prefix))),
  ];
  return readBatchLimits(kafka, topics, options.relay.maxBatchBytes, logger, {
    openEnded: !stream.collections,
  });
}

async function smallestMaxMessageBytes(
  kafka: Kafka,
  topics: (existing: string[]) => string[],
  scope: TopicScope,
): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const named = [...new Set(topics([...existing]))];
    const watched = named.filter((topic) => existing.has(topic));
    const toCreate = scope.openEnded || watched.length < named.length;
    const brokers = toCreate ? (await admin.describeCluster()).brokers : [];
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        ...brokers.map((b) => ({
          type: ConfigResourceTypes.BROKER,
          name: String(b.nodeId),
          configNames: ['message.max.bytes'],
        })),
        ...watched.map((name) => ({
          type: ConfigResourceTypes.TOPIC,
          name,
          configNames: ['max.message.bytes'],
        })),
      ],
    });
    const values = resources
      .flatMap((r) => r.configEntries)
      .map((entry) => Number(entry.configValue))
      .filter((value) => Number.isFinite(value) && value > 0);
    return values.length ? Math.min(...values) : KAFKA_DEFAULT_MAX_MESSAGE_BYTES;
  } finally {
    await admin.disconnect();
  }
}
