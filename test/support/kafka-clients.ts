/**
 * kafkajs settings and helpers for test clients of the test ground (or of a cluster named by KAFKA_BROKERS).
 */
import { logLevel, type Consumer, type ConsumerConfig, type KafkaConfig } from 'kafkajs';
import { waitFor } from './wait';

/** Silent clients with a quick first retry. Spread into `new Kafka({ ...TEST_KAFKA_SETTINGS, clientId, brokers })`. */
export const TEST_KAFKA_SETTINGS = {
  logLevel: logLevel.NOTHING,
  retry: { initialRetryTime: 100, retries: 8 },
} satisfies Partial<KafkaConfig>;

/**
 * Consumer settings for tests: a dead member's partitions move within 6 s (Kafka's smallest session
 * timeout the test brokers accept is 1 s; kafkajs's default is 30 s), and an empty fetch returns after
 * 100 ms, so `disconnect()` is quick. Spread into `kafka.consumer({ ...TEST_CONSUMER_SETTINGS, groupId })`.
 */
export const TEST_CONSUMER_SETTINGS = {
  sessionTimeout: 6000,
  heartbeatInterval: 500,
  maxWaitTimeInMs: 100,
} satisfies Partial<ConsumerConfig>;

/**
 * Subscribes `consumer` to `topics` from the beginning, also to topics that do not exist yet. Kafka
 * creates such a topic on this very Metadata request (auto.create.topics.enable) but answers
 * UNKNOWN_TOPIC_OR_PARTITION until its partitions have leaders, and kafkajs's subscribe does not retry
 * that: it is asked again until the topics are there.
 */
export async function subscribeFromBeginning(consumer: Consumer, topics: string[]): Promise<void> {
  await waitFor(() => consumer.subscribe({ topics, fromBeginning: true }).then(() => true), {
    timeoutMs: 30_000,
    intervalMs: 200,
    what: `topics ${topics.join(', ')} to exist`,
  });
}
