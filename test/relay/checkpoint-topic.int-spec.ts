/**
 * The exactly-once checkpoint topic: created compacted when missing; an existing one with another
 * cleanup policy, or a single replica in production, is used but named in a warning (Kafka keeps
 * every record of a `delete` topic until retention, and loses them all with its only replica).
 */
import type { LoggerService } from '@nestjs/common';
import { ConfigResourceTypes, Kafka } from 'kafkajs';
import { ensureCheckpointTopic } from '../../libs/change-stream/src/relay/checkpoint-topic';
import { TEST_KAFKA_SETTINGS } from '../support/kafka-clients';
import { uniqueName, useGround } from '../support/ground';

function recordingLogger(): LoggerService & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, log: () => undefined, error: () => undefined, warn: (m: string) => warnings.push(m) };
}

describe('exactly-once checkpoint topic', () => {
  const ground = useGround({ mongo: false });
  const kafka = () =>
    new Kafka({ ...TEST_KAFKA_SETTINGS, clientId: 'ckpt-topic', brokers: ground().kafkaBrokers });
  const savedEnv = process.env.NODE_ENV;
  afterEach(() => {
    if (savedEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = savedEnv;
  });

  async function cleanupPolicy(topic: string): Promise<string | undefined> {
    const admin = kafka().admin();
    await admin.connect();
    try {
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['cleanup.policy'] }],
      });
      return resources[0].configEntries[0]?.configValue;
    } finally {
      await admin.disconnect();
    }
  }

  it('creates a missing topic compacted, without a warning on a one-broker test cluster', async () => {
    const topic = uniqueName('ckpt');
    const logger = recordingLogger();
    delete process.env.NODE_ENV;

    await ensureCheckpointTopic(kafka(), topic, logger);

    expect(await cleanupPolicy(topic)).toBe('compact');
    expect(logger.warnings).toEqual([]);
  });

  it('names cleanup.policy when an existing topic is not compacted', async () => {
    const topic = uniqueName('ckpt');
    const admin = kafka().admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'delete' }] }],
      waitForLeaders: true,
    });
    await admin.disconnect();
    const logger = recordingLogger();

    await ensureCheckpointTopic(kafka(), topic, logger);

    expect(logger.warnings).toEqual([expect.stringMatching(/cleanup\.policy is delete, should be compact/)]);
  });

  it('names the replication factor of a single-replica topic in production', async () => {
    const topic = uniqueName('ckpt');
    const logger = recordingLogger();
    process.env.NODE_ENV = 'production';

    await ensureCheckpointTopic(kafka(), topic, logger);

    expect(logger.warnings).toEqual([
      expect.stringMatching(/replication factor is 1, should be min\(3, brokers\)/),
    ]);
  });
});
