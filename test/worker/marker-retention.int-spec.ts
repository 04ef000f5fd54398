/**
 * Kafka deletes whole segments, so a message stays readable for up to `retention.ms` + `segment.ms`:
 * a worker must not start with processed-event markers kept for less (a redelivery older than the
 * marker would be applied again). Real broker: the worker reads the topics' settings at start-up.
 */
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { InvalidOptionsError } from 'nest-change-stream';
import { uniqueName, useGround } from '../support/ground';
import { ITEMS_DB } from './fixtures/items.handlers';
import { testKafka } from './fixtures/kafka-tools';
import { WorkerModule } from './fixtures/worker.module';

const ground = useGround();

describe('marker retention against the topics retention (real broker)', () => {
  const started: INestApplicationContext[] = [];

  /** A topic `<prefix>.consumer_it.items` with these settings; returns the prefix. */
  async function topicWith(config: Record<string, string>): Promise<string> {
    const prefix = uniqueName('mr');
    const admin = testKafka(ground().kafkaBrokers).admin();
    await admin.connect();
    try {
      await admin.createTopics({
        topics: [
          {
            topic: `${prefix}.${ITEMS_DB}.items`,
            numPartitions: 1,
            configEntries: Object.entries(config).map(([name, value]) => ({ name, value })),
          },
        ],
        waitForLeaders: true,
      });
    } finally {
      await admin.disconnect();
    }
    return prefix;
  }

  async function startWorker(topicPrefix: string, markerRetentionMs: number): Promise<void> {
    const { mongoUrl, kafkaBrokers } = ground();
    const app = await NestFactory.createApplicationContext(
      WorkerModule.forRoot({
        mongoUrl,
        kafkaBrokers,
        groupId: uniqueName('workers'),
        topicPrefix,
        worker: { markerRetentionMs },
      }),
      { logger: false },
    );
    started.push(app);
    await app.init();
  }

  afterEach(async () => {
    for (const app of started.splice(0)) await app.close().catch(() => undefined);
  });

  it('refuses a markerRetentionMs below retention.ms + segment.ms, naming both and the topic', async () => {
    const prefix = await topicWith({ 'retention.ms': '120000', 'segment.ms': '60000' });
    const failure = startWorker(prefix, 150_000);
    await expect(failure).rejects.toThrow(InvalidOptionsError);
    await expect(failure).rejects.toThrow(
      `Invalid ChangeStreamModule option "worker.markerRetentionMs": expected at least 180000 ms: topic ${prefix}.${ITEMS_DB}.items keeps a message readable for up to retention.ms 120000 + segment.ms 60000 (Kafka deletes whole segments), got 150000`,
    );
  });

  it('starts with a markerRetentionMs of at least retention.ms + segment.ms', async () => {
    const prefix = await topicWith({ 'retention.ms': '120000', 'segment.ms': '60000' });
    await expect(startWorker(prefix, 180_000)).resolves.toBeUndefined();
  });

  it('refuses a finite markerRetentionMs for a topic that keeps messages forever, and starts with Infinity', async () => {
    const prefix = await topicWith({ 'retention.ms': '-1', 'segment.ms': '60000' });
    await expect(startWorker(prefix, 7 * 24 * 3600_000)).rejects.toThrow(
      `expected Infinity (markers kept forever): topic ${prefix}.${ITEMS_DB}.items keeps messages forever (retention.ms -1)`,
    );
    await expect(startWorker(prefix, Infinity)).resolves.toBeUndefined();
  });

  it("goes by the broker's defaults for a topic that sets neither (Kafka's: 7 days + 7 days)", async () => {
    const prefix = await topicWith({});
    const week = 7 * 24 * 3600_000;
    await expect(startWorker(prefix, 10 * 24 * 3600_000)).rejects.toThrow(
      `expected at least ${2 * week} ms: topic ${prefix}.${ITEMS_DB}.items keeps a message readable for up to retention.ms ${week} + segment.ms ${week}`,
    );
    await expect(startWorker(prefix, 2 * week)).resolves.toBeUndefined();
  });
});
