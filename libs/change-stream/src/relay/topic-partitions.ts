import type { Kafka } from 'kafkajs';

/**
 * The partition count of each topic, creating a missing topic with the broker's defaults first (as
 * the producer's auto-creation would). Resnapshot markers go to every partition of these topics.
 */
export async function topicPartitions(kafka: Kafka, topics: readonly string[]): Promise<Map<string, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((topic) => !existing.has(topic));
    if (missing.length) {
      await admin.createTopics({ topics: missing.map((topic) => ({ topic })), waitForLeaders: true });
    }
    const { topics: metadata } = await admin.fetchTopicMetadata({ topics: [...topics] });
    return new Map(metadata.map((topic) => [topic.name, topic.partitions.length]));
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
