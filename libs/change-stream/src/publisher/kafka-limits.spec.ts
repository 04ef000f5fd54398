import { ConfigResourceTypes, type Kafka } from 'kafkajs';
import { BATCH_OVERHEAD_BYTES, readBatchLimits } from './kafka-limits';

const MiB = 1024 * 1024;

/** A kafkajs client whose admin answers describeConfigs from `brokerLimit` and `topicLimits` (existing topics). */
function kafkaWith(brokerLimit: number, topicLimits: Record<string, number>): Kafka {
  const admin = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    describeCluster: async () => ({ brokers: [{ nodeId: 1 }] }),
    listTopics: async () => Object.keys(topicLimits),
    describeConfigs: async ({ resources }: { resources: Array<{ type: number; name: string }> }) => ({
      resources: resources.map((r) => ({
        configEntries: [
          {
            configValue: String(r.type === ConfigResourceTypes.BROKER ? brokerLimit : topicLimits[r.name]),
          },
        ],
      })),
    }),
  };
  return { admin: () => admin } as unknown as Kafka;
}

const logger = { log: () => undefined, warn: () => undefined, error: () => undefined };

describe('readBatchLimits', () => {
  it("goes by an existing topic's max.message.bytes, which overrides the brokers' message.max.bytes", async () => {
    const kafka = kafkaWith(MiB, { orders: 40 * MiB });
    const limits = await readBatchLimits(kafka, () => ['orders'], 64 * MiB, logger);
    expect(limits.maxBatchBytes).toBe(40 * MiB - BATCH_OVERHEAD_BYTES);
  });

  it("counts the brokers' message.max.bytes for a topic not created yet (it gets the broker default)", async () => {
    const kafka = kafkaWith(MiB, { orders: 40 * MiB });
    const limits = await readBatchLimits(kafka, () => ['orders', 'payments'], 64 * MiB, logger);
    expect(limits.maxBatchBytes).toBe(MiB - BATCH_OVERHEAD_BYTES);
  });

  it("counts the brokers' setting for an open-ended (whole-database) stream, whose next topic is not known", async () => {
    const kafka = kafkaWith(MiB, { 'cdc.shop.orders': 40 * MiB });
    const limits = await readBatchLimits(kafka, (existing) => existing, 64 * MiB, logger, {
      openEnded: true,
    });
    expect(limits.maxBatchBytes).toBe(MiB - BATCH_OVERHEAD_BYTES);
  });

  it('never goes above relay.maxBatchBytes', async () => {
    const kafka = kafkaWith(64 * MiB, { orders: 64 * MiB });
    const limits = await readBatchLimits(kafka, () => ['orders'], 8 * MiB, logger);
    expect(limits.maxBatchBytes).toBe(8 * MiB - BATCH_OVERHEAD_BYTES);
  });
});
