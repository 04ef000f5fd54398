/**
 * A worker SIGKILLed in the middle of a handler (its transaction open, its offsets uncommitted):
 * the next worker of the group gets the partition, the messages are redelivered, and every event
 * still takes effect exactly once. Once with a transaction per message (batchSize 1), once with the
 * messages of the batch in one shared transaction (the default).
 *
 * Relies on mongod keeping the dead worker's open transaction, and its document locks, until
 * `transactionLifetimeLimitSeconds` (60 s by default) has passed: the redelivery conflicts with it
 * until then. The test lowers that limit to 5 s for its run (and restores it).
 */
import { MongoClient } from 'mongodb';
import { changeEvents } from 'nest-change-stream/testing';
import { uniqueName, useGround } from '../support/ground';
import { waitFor } from '../support/wait';
import { ITEMS_DB, type EffectRecord, type Item, type ItemView } from './fixtures/items.handlers';
import { changeEventProducer, testKafka } from './fixtures/kafka-tools';
import { killAll, spawnWorker, type WorkerProcess } from './fixtures/worker-process';

const MODES = [
  // Events 1 and 2 commit one by one; event 3's writes exist only in its open transaction.
  { batchSize: 1, committedBeforeKill: [1, 2], prefix: uniqueName('crash') },
  // Events 1 to 5 share a transaction, left open by event 3: nothing is committed.
  { batchSize: 100, committedBeforeKill: [], prefix: uniqueName('crash') },
];
const topicOf = (prefix: string) => `${prefix}.${ITEMS_DB}.items`;
const ground = useGround({
  kafka: { topics: MODES.map(({ prefix }) => ({ name: topicOf(prefix), partitions: 1 })) },
});
const ABANDONED_TRANSACTION_LIMIT_S = 5;

let restoreLifetimeLimit: (() => Promise<void>) | undefined;
beforeAll(async () => {
  const client = await new MongoClient(ground().mongoUrl).connect();
  const admin = client.db('admin');
  const { transactionLifetimeLimitSeconds: before } = await admin.command({
    getParameter: 1,
    transactionLifetimeLimitSeconds: 1,
  });
  await admin.command({ setParameter: 1, transactionLifetimeLimitSeconds: ABANDONED_TRANSACTION_LIMIT_S });
  restoreLifetimeLimit = async () => {
    // A stand-in is gone with the ground by now; a shared real server gets its setting back.
    if (ground().real.mongo)
      await admin.command({ setParameter: 1, transactionLifetimeLimitSeconds: before });
    await client.close();
  };
});
afterAll(() => restoreLifetimeLimit?.());

describe.each(MODES)(
  'a worker killed mid-handler (batchSize $batchSize)',
  ({ batchSize, committedBeforeKill, prefix }) => {
    const TOPIC = topicOf(prefix);
    const workers: WorkerProcess[] = [];
    afterEach(() => killAll(workers.splice(0)), 30_000);

    it('leaves no partial effect, and the redelivery takes effect once', async () => {
      const { mongoUrl, kafkaBrokers } = ground();
      // Commits only at the end of a batch here: the events before the hanging one stay uncommitted too.
      const config = {
        mongoUrl,
        kafkaBrokers,
        groupId: uniqueName('group'),
        topicPrefix: prefix,
        worker: { commitIntervalMs: 600_000, batchSize },
      };
      const client = await new MongoClient(mongoUrl).connect();
      const producer = await changeEventProducer(testKafka(kafkaBrokers));
      try {
        const first = spawnWorker('first', config, { HANG: '1' });
        workers.push(first);
        await first.ready();
        await waitFor(() => (first.assignment()[TOPIC] ?? []).length === 1, {
          what: 'the first worker assigned',
          timeoutMs: 30_000,
        });

        const id = uniqueName('doc');
        const events = [1, 2, 3, 4, 5].map((seq) => {
          const item: Item = { _id: id, seq, ...(seq === 3 ? { behaviour: 'hang' as const } : {}) };
          return seq === 1
            ? changeEvents.insert<Item>('items', item, { db: ITEMS_DB })
            : changeEvents.update<Item>(
                'items',
                id,
                { updatedFields: { seq } },
                { db: ITEMS_DB, fullDocument: item },
              );
        });
        await producer.send(TOPIC, events);

        const db = client.db(ITEMS_DB);
        const views = db.collection<ItemView>('item_views');
        const effects = db.collection<EffectRecord>('item_effects');
        const hanging = events[2]._id._data;
        await waitFor(() => db.collection('signals').findOne({ _id: hanging as never }), {
          what: 'the handler of event 3 in progress',
        });
        const appliedSeqs = async () => (await views.findOne({ _id: id }))?.seqs ?? [];
        expect(await appliedSeqs()).toEqual(committedBeforeKill);

        first.kill('SIGKILL');
        await first.exited;
        expect(await appliedSeqs()).toEqual(committedBeforeKill);
        // No offset was committed, so events 1 and 2 are redelivered too (and skipped if they were applied).
        const admin = testKafka(kafkaBrokers).admin();
        await admin.connect();
        const [committed] = await admin
          .fetchOffsets({ groupId: config.groupId, topics: [TOPIC] })
          .finally(() => admin.disconnect());
        expect(committed.partitions).toEqual([expect.objectContaining({ partition: 0, offset: '-1' })]);

        const second = spawnWorker('second', config);
        workers.push(second);
        await second.ready();
        await waitFor(async () => (await views.findOne({ _id: id }))?.applied === 5, {
          what: 'all five events applied',
          timeoutMs: 40_000,
        });

        const byWorker = [1, 2, 3, 4, 5].map((seq) =>
          committedBeforeKill.includes(seq) ? 'first' : 'second',
        );
        const view = await views.findOne({ _id: id });
        expect(view).toMatchObject({ seqs: [1, 2, 3, 4, 5], applied: 5, workers: byWorker });
        const records = await effects.find({ _id: { $in: events.map((e) => e._id._data) } }).toArray();
        expect(records.map((r) => r.worker).sort()).toEqual([...byWorker].sort());
      } finally {
        await producer.disconnect();
        await client.close();
      }
    }, 120_000);
  },
);
