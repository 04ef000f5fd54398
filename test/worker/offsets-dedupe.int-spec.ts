/**
 * `worker.dedupe: 'offsets'` end to end, with a transactional producer standing in for an
 * exactly-once relay (kafkajs with a transactionalId, as the relay's is):
 * - a worker SIGKILLed before it committed any Kafka offset: the next worker gets every message
 *   again and skips them all by the applied offsets (no handler call, no marker), one offsets
 *   document per partition;
 * - read committed: the messages of an aborted Kafka transaction never reach a handler.
 * Two workers racing on one partition (a zombie) are covered where the race is decided, in the
 * executor (applied-offsets.int-spec.ts); markers mode keeps its own specs (idempotency, two-workers).
 */
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Kafka, Producer } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { changeEvents, toKafkaMessage } from 'nest-change-stream/testing';
import type { ChangeEvent } from 'nest-change-stream';
import { ChangeEventWorker } from '../../libs/change-stream/src/worker/change-event.worker';
import { uniqueName, useGround } from '../support/ground';
import { waitFor } from '../support/wait';
import { ITEMS_DB, probe, type EffectRecord, type Item, type ItemView } from './fixtures/items.handlers';
import { testKafka } from './fixtures/kafka-tools';
import { killAll, spawnWorker, type WorkerProcess } from './fixtures/worker-process';
import { WorkerModule, type WorkerConfig } from './fixtures/worker.module';

const PREFIX = uniqueName('offsets');
const TOPIC = `${PREFIX}.${ITEMS_DB}.items`;
const PARTITIONS = 2;
const ground = useGround({ kafka: { topics: [{ name: TOPIC, partitions: PARTITIONS }] } });

/** A transactional producer: each `send` is one Kafka transaction, committed or aborted. */
async function transactionalProducer(kafka: Kafka) {
  const producer: Producer = kafka.producer({
    transactionalId: uniqueName('offsets-tx'),
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  return {
    /** Sends `events` in one transaction (to `partition` when given, else by key), then commits or aborts it. */
    send: async (events: ChangeEvent[], outcome: 'commit' | 'abort' = 'commit', partition?: number) => {
      const transaction = await producer.transaction();
      const messages = events.map((e) => ({ ...toKafkaMessage(e), partition }));
      await transaction.send({ topic: TOPIC, acks: -1, messages });
      await (outcome === 'commit' ? transaction.commit() : transaction.abort());
    },
    disconnect: () => producer.disconnect(),
  };
}

/** Updates only: ItemsNotifier (transaction: false, markers) handles inserts, and stays out of these tests. */
const updates = (ids: string[], seq: number) =>
  ids.map((_id) =>
    changeEvents.update<Item>(
      'items',
      _id,
      { updatedFields: { seq } },
      { db: ITEMS_DB, fullDocument: { _id, seq } },
    ),
  );

describe("worker.dedupe: 'offsets' against Kafka", () => {
  let client: MongoClient;
  let producer: Awaited<ReturnType<typeof transactionalProducer>>;
  let app: INestApplicationContext | undefined;
  const workers: WorkerProcess[] = [];
  let config: WorkerConfig;

  beforeAll(async () => {
    const { mongoUrl, kafkaBrokers } = ground();
    client = await new MongoClient(mongoUrl).connect();
    producer = await transactionalProducer(testKafka(kafkaBrokers, 'offsets-producer'));
    config = {
      mongoUrl,
      kafkaBrokers,
      groupId: uniqueName('offsets-group'),
      topicPrefix: PREFIX,
      worker: { dedupe: 'offsets' },
    };
  });
  afterAll(async () => {
    await killAll(workers.splice(0));
    await app?.close();
    await producer?.disconnect();
    await client?.close();
  }, 60_000);

  const views = () => client.db(ITEMS_DB).collection<ItemView>('item_views');
  const startInProcess = async () => {
    app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { logger: false });
    await app.init();
    return app.get(ChangeEventWorker);
  };

  it('skips a batch redelivered to the next worker: no effect twice, one offsets document per partition, no marker', async () => {
    const ids = Array.from({ length: 8 }, () => uniqueName('item'));
    // Half the items on each partition; per version, one transaction per partition.
    const onPartition = (p: number) => ids.filter((_, index) => index % PARTITIONS === p);
    const transactions = [1, 2].flatMap((seq) =>
      Array.from({ length: PARTITIONS }, (_, p) => ({ p, events: updates(onPartition(p), seq) })),
    );
    const events = transactions.flatMap((t) => t.events);
    const eventIds = events.map((e) => e._id._data);
    for (const { p, events: sent } of transactions) await producer.send(sent, 'commit', p);

    const first = spawnWorker('w1', config);
    workers.push(first);
    await first.ready();
    await waitFor(
      async () => (await views().countDocuments({ _id: { $in: ids }, applied: 2 })) === ids.length,
      { what: 'every event applied by the first worker', timeoutMs: 30_000 },
    );
    first.kill('SIGKILL');
    await first.exited;
    // As if it died before committing: the group's offsets go back to the start (once its member expired).
    const admin = testKafka(config.kafkaBrokers, 'offsets-admin').admin();
    await admin.connect();
    try {
      await waitFor(
        () =>
          admin
            .resetOffsets({ groupId: config.groupId, topic: TOPIC, earliest: true })
            .then(() => true)
            .catch(() => false),
        { what: "the dead worker's group offsets reset", timeoutMs: 30_000, intervalMs: 500 },
      );
    } finally {
      await admin.disconnect();
    }

    probe.reset();
    const second = await startInProcess();
    await waitFor(() => second.status().completedMessages >= events.length, {
      what: 'the redelivered messages done by the second worker',
      timeoutMs: 30_000,
    });
    expect(second.status().completedMessages).toBe(events.length);
    // Skipped before any transaction: the handler never ran in this process.
    expect(eventIds.filter((id) => probe.attempts.has(id))).toEqual([]);
    const db = client.db(ITEMS_DB);
    expect(await db.collection<EffectRecord>('item_effects').countDocuments({ _id: { $in: eventIds } })).toBe(
      events.length,
    );
    for (const view of await views()
      .find({ _id: { $in: ids } })
      .toArray())
      expect({ id: view._id, seqs: view.seqs }).toEqual({ id: view._id, seqs: [1, 2] });
    const library = client.db('nest_change_stream');
    const offsets = await library
      .collection('change_stream_offsets')
      .find({ groupId: config.groupId, topic: TOPIC })
      .toArray();
    expect(offsets.map((doc) => doc.partition).sort()).toEqual([0, 1]);
    expect(
      await library.collection('change_stream_processed').countDocuments({ eventId: { $in: eventIds } }),
    ).toBe(0);
  }, 120_000);

  it('never hands a handler the messages of an aborted Kafka transaction (read committed)', async () => {
    const worker = app ? app.get(ChangeEventWorker) : await startInProcess();
    probe.reset();
    const [kept, aborted, later] = [uniqueName('kept'), uniqueName('aborted'), uniqueName('later')];
    // All on partition 0: the later transaction is handed over only once the aborted one was passed.
    await producer.send(updates([kept], 1), 'commit', 0);
    await producer.send(updates([aborted], 1), 'abort', 0);
    await producer.send(updates([later], 1), 'commit', 0);
    await waitFor(async () => (await views().countDocuments({ _id: { $in: [kept, later] } })) === 2, {
      what: 'the committed transactions applied',
      timeoutMs: 30_000,
    });
    expect(await views().findOne({ _id: aborted })).toBeNull();
    expect([...probe.attempts.keys()]).toHaveLength(2);
    expect(worker.status().state).toBe('running');
  }, 60_000);
});
