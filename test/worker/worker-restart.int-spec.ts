/**
 * A worker whose kafkajs consumer gave up for good while its broker was down (a CRASH event with
 * `restart: false`) handles new messages again once the broker is back, without a process restart:
 * the library recreates the consumer in the same group, with backoff, and it resumes from the
 * committed offsets with its handlers running once per message.
 *
 * kafkajs (2.2.4) restarts a consumer by itself after a retriable error (a broker outage that outlasts
 * its retries included) and gives up for good after a non-retriable one, or when the consumer's
 * `retry.restartOnFailure` answers false. The worker here takes no retry and, from the moment the
 * test stops its own broker, answers false: the outage takes kafkajs down its real give-up path.
 */
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MongoClient } from 'mongodb';
import { changeEvents } from 'nest-change-stream/testing';
import { ChangeEventWorker } from '../../libs/change-stream/src/worker/change-event.worker';
import { uniqueName, useGround } from '../support/ground';
import { waitFor } from '../support/wait';
import { ITEMS_DB, probe, type Item, type ItemView } from './fixtures/items.handlers';
import { changeEventProducer, testKafka } from './fixtures/kafka-tools';
import { WorkerModule } from './fixtures/worker.module';

const PREFIX = uniqueName('restart');
const TOPIC = `${PREFIX}.${ITEMS_DB}.items`;
const ground = useGround({ kafka: { dedicated: true, topics: [{ name: TOPIC, partitions: 1 }] } }, 120_000);

describe('a consumer kafkajs gave up on (CRASH, restart: false)', () => {
  let app: INestApplicationContext | undefined;
  let client: MongoClient;
  let producer: Awaited<ReturnType<typeof changeEventProducer>> | undefined;

  afterAll(async () => {
    await app?.close();
    await producer?.disconnect();
    await client?.close();
  }, 60_000);

  it('is recreated after the broker comes back and handles new messages, in the same process', async () => {
    const { mongoUrl, kafkaBrokers } = ground();
    const kafka = ground().kafka!;
    client = await new MongoClient(mongoUrl).connect();
    const view = (id: string) => client.db(ITEMS_DB).collection<ItemView>('item_views').findOne({ _id: id });
    const groupId = uniqueName('restart-workers');
    let giveUp = false;
    app = await NestFactory.createApplicationContext(
      WorkerModule.forRoot({
        mongoUrl,
        kafkaBrokers,
        groupId,
        topicPrefix: PREFIX,
        worker: {
          // Offsets committed after every batch: what the new consumer resumes from is exact.
          commitIntervalMs: 0,
          restartBackoff: { initialDelayMs: 200, maxDelayMs: 2_000 },
          kafka: { retry: { retries: 0, restartOnFailure: async () => !giveUp } },
        },
      }),
      { logger: false },
    );
    await app.init();
    const worker = app.get(ChangeEventWorker);
    producer = await changeEventProducer(testKafka(kafkaBrokers));
    const admin = testKafka(kafkaBrokers, 'restart-admin').admin();
    const committed = async () => {
      await admin.connect();
      try {
        const [{ partitions }] = await admin.fetchOffsets({ groupId, topics: [TOPIC] });
        return partitions[0].offset;
      } finally {
        await admin.disconnect();
      }
    };

    const id = uniqueName('item');
    const first = changeEvents.insert<Item>('items', { _id: id, seq: 1 }, { db: ITEMS_DB });
    await producer.send(TOPIC, [first]);
    await waitFor(async () => (await view(id))?.applied === 1, {
      what: 'the first event applied',
      timeoutMs: 30_000,
    });
    await waitFor(async () => (await committed()) === '1', {
      what: 'its offset committed',
      timeoutMs: 30_000,
    });
    const completedBefore = worker.status().completedMessages;

    giveUp = true;
    await kafka.kill(1);
    let down;
    try {
      down = await waitFor(() => (worker.status().state === 'restarting' ? worker.status() : null), {
        what: 'the consumer restarting after kafkajs gave up',
        timeoutMs: 60_000,
        intervalMs: 50,
      });
    } finally {
      await kafka.restart(1);
    }
    expect(down.restart).toMatchObject({ attempt: expect.any(Number), reason: expect.any(String) });
    expect(down.restart!.since).toBeInstanceOf(Date);

    const second = changeEvents.update<Item>(
      'items',
      id,
      { updatedFields: { seq: 2 } },
      { db: ITEMS_DB, fullDocument: { _id: id, seq: 2 } },
    );
    await producer.send(TOPIC, [second]);
    await waitFor(async () => (await view(id))?.applied === 2, {
      what: 'the event sent after the broker came back applied',
      timeoutMs: 90_000,
      intervalMs: 200,
    });
    expect(await view(id)).toMatchObject({ seqs: [1, 2], applied: 2 });
    expect(worker.status()).toMatchObject({ state: 'running', restart: null });
    expect(worker.status().restarts).toBeGreaterThanOrEqual(1);
    // Resumed after the committed offset: only the new message was delivered, and handled once.
    expect(worker.status().completedMessages).toBe(completedBefore + 1);
    expect(probe.attempts.get(second._id._data)).toBe(1);
    expect(probe.attempts.get(first._id._data)).toBe(1);
  }, 240_000);
});
