import type { LoggerService } from '@nestjs/common';
import { ConfigResourceTypes, type Consumer, type Kafka } from 'kafkajs';
import { randomBytes } from 'node:crypto';
import { MESSAGES } from '../change-stream.messages';
import { sleep } from '../utils/timers';
import { TransactionLogUnavailableError, transactionLogFault } from '../publisher/transaction-log';

/** How often a read to the end checks the reader's position (the reader itself long-polls). */
const POLL_MS = 10;

/**
 * Throws TransactionLogUnavailableError when the brokers can never host a transaction coordinator.
 * Creates the exactly-once checkpoint topic when missing (compacted, one partition, replication
 * factor min(3, brokers)), and warns when an existing one is not compacted or has a single replica
 * while the cluster has more brokers (or NODE_ENV is production).
 */
export async function ensureCheckpointTopic(
  kafka: Kafka,
  topic: string,
  logger: LoggerService,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { brokers } = await admin.describeCluster();
    const unplaceable = await transactionLogFault(
      admin,
      brokers.map((b) => b.nodeId),
    );
    if (unplaceable) throw new TransactionLogUnavailableError(unplaceable);
    if (!(await admin.listTopics()).includes(topic)) {
      await admin.createTopics({
        topics: [
          {
            topic,
            numPartitions: 1,
            replicationFactor: Math.min(3, brokers.length),
            configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
          },
        ],
        waitForLeaders: true,
      });
    }
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['cleanup.policy'] }],
    });
    const policy = resources[0]?.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue;
    if (policy !== undefined && !policy.split(',').includes('compact'))
      logger.warn(MESSAGES.checkpointTopicSetting(topic, 'cleanup.policy', policy, 'compact'));
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const replicas = topics[0]?.partitions[0]?.replicas.length ?? 0;
    if (replicas === 1 && (brokers.length > 1 || process.env.NODE_ENV === 'production'))
      logger.warn(
        MESSAGES.checkpointTopicSetting(
          topic,
          'replication factor',
          '1',
          `min(3, brokers) = ${Math.min(3, brokers.length)}`,
        ),
      );
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** The key of a stream's takeover markers in the checkpoint topic (apart from its checkpoint records' key). */
export function takeoverMarkerKey(stream: string): string {
  return `${stream}\u0000takeover`;
}

/**
 * The last committed checkpoint record of one stream, read from the checkpoint topic by a consumer
 * that stays joined while this replica stands by (and leads): a takeover then waits for a fetch or
 * two, not for a consumer group to form (`group.initial.rebalance.delay.ms`, 3 s by default, plus
 * the join). Read committed (kafkajs' default): aborted records are never seen. Its group has a
 * unique id and commits nothing, so Kafka forgets it once it leaves.
 */
export class CheckpointReader {
  private consumer: Consumer | null = null;
  private starting: Promise<void> | null = null;
  private latest: string | null = null;
  private marker: string | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly stream: string,
  ) {}

  /** Joins and starts reading from the beginning (once; a failed start is retried by the next call). */
  start(): Promise<void> {
    this.starting ??= this.open().catch((error) => {
      this.starting = null;
      throw error;
    });
    return this.starting;
  }

  /**
   * The stream's last committed checkpoint value (null: none yet) once the takeover marker `marker`,
   * committed after fencing, was read: everything before it in the log is then read too.
   *
   * NOTE: not "up to the high watermark" as such: kafkajs lists offsets read-committed only (the last
   * stable offset), and reports no high watermark of an empty fetch. The marker is the same bound,
   * and like it waits while another stream's transaction is open before it (at most the transaction timeout).
   */
  async readThrough(marker: string, signal: AbortSignal): Promise<string | null> {
    await this.start();
    while (this.marker !== marker) {
      if (signal.aborted) throw new Error(`reading checkpoint topic "${this.topic}" cut short: term ended`);
      await sleep(POLL_MS, signal);
    }
    return this.latest;
  }

  async stop(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = null;
    this.starting = null;
    await consumer?.disconnect().catch(() => undefined);
  }

  private async open(): Promise<void> {
    const groupId = `${this.topic}.reader.${randomBytes(6).toString('hex')}`;
    const consumer = this.kafka.consumer({ groupId, maxWaitTimeInMs: 100, allowAutoTopicCreation: false });
    this.consumer = consumer;
    const markerKey = takeoverMarkerKey(this.stream);
    await consumer.connect();
    await consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const key = String(message.key);
          if (key === this.stream) this.latest = message.value ? String(message.value) : null;
          else if (key === markerKey) this.marker = String(message.value);
        }
      },
    });
  }
}
