/**
 * What a raw consumer of the orders topic saw during a chaos run: every message published since the
 * run started, read with a read-committed consumer (what a downstream team's consumer reads), counted
 * per event id. In exactly-once delivery each event is in the topic once; at-least-once delivery
 * republishes what a replaced leader had not checkpointed, and those copies show here.
 */
import { Kafka, type Admin } from 'kafkajs';
import { CHANGE_EVENT_HEADERS } from 'nest-change-stream';
import { TEST_CONSUMER_SETTINGS, TEST_KAFKA_SETTINGS } from '../support/kafka-clients';
import { waitFor } from '../support/wait';

/** The end of each partition of a topic (its high watermark), by partition. */
export type TopicOffsets = Map<number, bigint>;

export interface TopicAudit {
  /** Messages read after the run's start offsets. */
  messages: number;
  /** Distinct event ids among them. */
  distinctEvents: number;
  /** Messages beyond the first of their event id. */
  duplicateMessages: number;
  /** Events that were in the topic more than once. */
  eventsRepublished: number;
}

/** The topic's high watermarks now: where a run that starts now begins. */
export async function topicEnds(brokers: string[], topic: string): Promise<TopicOffsets> {
  return withAdmin(brokers, async (admin) => {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map(({ partition, high }) => [partition, BigInt(high)]));
  });
}

/**
 * Reads `topic` from `from` (partitions not named: from their start) up to its current end,
 * read-committed, and counts the messages per event id. Aborted transactions' messages are never
 * returned to a read-committed consumer: what is counted is what downstream consumers see.
 */
export async function auditTopic(
  brokers: string[],
  topic: string,
  from: TopicOffsets,
  timeoutMs = 120_000,
): Promise<TopicAudit> {
  const ends = await topicEnds(brokers, topic);
  const kafka = new Kafka({ ...TEST_KAFKA_SETTINGS, clientId: 'chaos-topic-audit', brokers });
  const consumer = kafka.consumer({
    ...TEST_CONSUMER_SETTINGS,
    groupId: `chaos-topic-audit-${process.pid}-${Date.now().toString(36)}`,
    readUncommitted: false,
  });
  const perEvent = new Map<string, number>();
  // NOTE: positions move past transaction markers too (kafkajs resolves control batches), so each
  // partition's position reaches its end even when its last record is a commit marker.
  const reached = new Map<number, bigint>();
  let messages = 0;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    consumer.on(consumer.events.GROUP_JOIN, () => {
      for (const [partition, offset] of from) consumer.seek({ topic, partition, offset: String(offset) });
    });
    consumer.on(consumer.events.COMMIT_OFFSETS, ({ payload }) => {
      for (const t of payload.topics)
        // NOTE: kafkajs types the partition as a number; the payload carries it as a string.
        for (const p of t.partitions) reached.set(Number(p.partition), BigInt(p.offset));
    });
    await consumer.run({
      eachBatch: async ({ batch, resolveOffset }) => {
        const start = from.get(batch.partition) ?? 0n;
        for (const message of batch.messages) {
          if (BigInt(message.offset) >= start) {
            const id =
              message.headers?.[CHANGE_EVENT_HEADERS.eventId]?.toString() ?? `offset:${message.offset}`;
            perEvent.set(id, (perEvent.get(id) ?? 0) + 1);
            messages++;
          }
          resolveOffset(message.offset);
        }
      },
    });
    const at = (partition: number) => reached.get(partition) ?? from.get(partition) ?? 0n;
    await waitFor(() => [...ends].every(([partition, end]) => at(partition) >= end), {
      timeoutMs,
      intervalMs: 100,
      what: `a read-committed consumer to reach the end of ${topic} (${describe(ends)}; at ${describe(reached)})`,
    });
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  const copies = [...perEvent.values()];
  return {
    messages,
    distinctEvents: perEvent.size,
    duplicateMessages: copies.reduce((sum, n) => sum + n - 1, 0),
    eventsRepublished: copies.filter((n) => n > 1).length,
  };
}

/** One line for the run's log: what the topic holds against the events written. */
export function describeTopic(audit: TopicAudit, written: number): string {
  return (
    `${audit.messages} messages read committed, ${audit.distinctEvents} distinct events of ${written} written, ` +
    `${audit.duplicateMessages} duplicate messages (${audit.eventsRepublished} events republished)`
  );
}

async function withAdmin<T>(brokers: string[], use: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Kafka({ ...TEST_KAFKA_SETTINGS, clientId: 'chaos-topic-audit', brokers }).admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function describe(offsets: TopicOffsets): string {
  return [...offsets].map(([partition, end]) => `p${partition}@${end}`).join(' ');
}
