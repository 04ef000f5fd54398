/**
 * Following the change topic from the benchmarks: every message with its partition, offset, key,
 * event id, epoch and timings, through a consumer group of its own that rides out a broker outage.
 */
import { Kafka, type Consumer } from 'kafkajs';
import { TEST_CONSUMER_SETTINGS, TEST_KAFKA_SETTINGS } from '../../test/support/kafka-clients';

/** One message of the change topic, as the benchmarks look at it. */
export interface TopicMessage {
  partition: number;
  offset: string;
  /** Canonical EJSON of the documentKey. */
  key: string;
  eventId: string;
  epoch: number;
  /** The message's timestamp: the producer's create time (the publishing leader's clock, ms). */
  createdAt: number;
  /** When this process received it (ms). */
  seenAt: number;
  /** The change event's wallTime (its commit's wall-clock time, ms), when the value carries one. */
  wallTime?: number;
}

function toTopicMessage(
  partition: number,
  message: {
    offset: string;
    key: Buffer | null;
    value: Buffer | null;
    timestamp: string;
    headers?: Record<string, unknown>;
  },
): TopicMessage {
  const wallTime = /"wallTime":\{"\$date":\{"\$numberLong":"(\d+)"\}\}/.exec(
    message.value?.toString() ?? '',
  )?.[1];
  const header = (name: string) => {
    const raw = message.headers?.[name];
    return String(Array.isArray(raw) ? raw[0] : (raw ?? ''));
  };
  return {
    partition,
    offset: message.offset,
    key: message.key?.toString() ?? '',
    eventId: header('cdc-event-id'),
    epoch: Number(header('cdc-epoch')),
    createdAt: Number(message.timestamp),
    seenAt: Date.now(),
    ...(wallTime ? { wallTime: Number(wallTime) } : {}),
  };
}

/** A client that keeps retrying (every second at most) while a broker is down, and reconnects when it is back. */
function kafkaClient(brokers: string[]): Kafka {
  return new Kafka({
    ...TEST_KAFKA_SETTINGS,
    clientId: 'bench',
    brokers,
    retry: { initialRetryTime: 100, maxRetryTime: 1_000, retries: 1_000 },
  });
}

/**
 * Follows a topic in a group of its own and hands every message to `onMessage`: new messages only,
 * or with `fromBeginning` everything the topic holds. Resolves once the consumer has joined.
 */
export async function followTopic(
  brokers: string[],
  topic: string,
  onMessage: (message: TopicMessage) => void,
  options: { fromBeginning?: boolean } = {},
): Promise<{ stop(): Promise<void> }> {
  const consumer: Consumer = kafkaClient(brokers).consumer({
    ...TEST_CONSUMER_SETTINGS,
    groupId: `bench-follow-${Date.now().toString(36)}`,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: options.fromBeginning ?? false });
  const joined = new Promise<void>((done) => consumer.on(consumer.events.GROUP_JOIN, () => done()));
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const message of batch.messages) onMessage(toTopicMessage(batch.partition, message));
    },
  });
  await joined;
  return { stop: () => consumer.disconnect() };
}
