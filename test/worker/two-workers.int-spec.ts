/**
 * Two worker processes in one consumer group share a 4-partition topic: each event takes effect
 * exactly once, both workers do part of the work, and each document's versions apply in order.
 */
import { MongoClient } from 'mongodb';
import { changeEvents } from 'nest-change-stream/testing';
import { uniqueName, useGround } from '../support/ground';
import { waitFor } from '../support/wait';
import { ITEMS_DB, type EffectRecord, type Item, type ItemView } from './fixtures/items.handlers';
import { changeEventProducer, testKafka } from './fixtures/kafka-tools';
import { killAll, spawnWorker, type WorkerProcess } from './fixtures/worker-process';

const PREFIX = uniqueName('two');
const TOPIC = `${PREFIX}.${ITEMS_DB}.items`;
const ground = useGround({ kafka: { topics: [{ name: TOPIC, partitions: 4 }] } });

describe('two worker processes', () => {
  const workers: WorkerProcess[] = [];
  afterEach(() => killAll(workers.splice(0)), 30_000);

  it('share the partitions and apply every event exactly once, in order per document', async () => {
    const { mongoUrl, kafkaBrokers } = ground();
    const config = {
      mongoUrl,
      kafkaBrokers,
      groupId: uniqueName('group'),
      topicPrefix: PREFIX,
      worker: { partitionConcurrency: 2 },
    };
    workers.push(spawnWorker('w1', config), spawnWorker('w2', config));
    await Promise.all(workers.map((w) => w.ready()));
    await waitFor(() => workers.every((w) => (w.assignment()[TOPIC] ?? []).length > 0), {
      what: 'both workers assigned partitions',
      timeoutMs: 30_000,
    });
    const [a, b] = workers.map((w) => w.assignment()[TOPIC]);
    expect([...a, ...b].sort()).toEqual([0, 1, 2, 3]);

    const client = await new MongoClient(mongoUrl).connect();
    const producer = await changeEventProducer(testKafka(kafkaBrokers));
    try {
      const ids = Array.from({ length: 16 }, () => uniqueName('doc'));
      const versions = 10;
      const events = [];
      for (let seq = 1; seq <= versions; seq++) {
        for (const _id of ids) {
          const item: Item = { _id, seq };
          events.push(
            seq === 1
              ? changeEvents.insert<Item>('items', item, { db: ITEMS_DB })
              : changeEvents.update<Item>(
                  'items',
                  _id,
                  { updatedFields: { seq } },
                  { db: ITEMS_DB, fullDocument: item },
                ),
          );
        }
      }
      // The same messages twice: a producer retry or a replay after a failover looks like this.
      await producer.send(TOPIC, events);
      await producer.send(TOPIC, events);

      const db = client.db(ITEMS_DB);
      const views = db.collection<ItemView>('item_views');
      const effects = db.collection<EffectRecord>('item_effects');
      const eventIds = events.map((e) => e._id._data);
      // Both copies of every event are consumed once the last copy of each document's last version is.
      await waitFor(
        async () =>
          (await views.countDocuments({ _id: { $in: ids }, applied: { $gte: versions } })) === ids.length,
        {
          what: 'every event applied',
          timeoutMs: 30_000,
        },
      );
      const processed = client.db('nest_change_stream').collection('change_stream_processed');
      await waitFor(
        async () =>
          (await processed.countDocuments({
            eventId: { $in: eventIds },
            handlerId: 'ItemsNotifier.notify',
          })) === ids.length,
        {
          what: 'the notifier done with every insert',
        },
      );

      expect(await effects.countDocuments({ _id: { $in: eventIds } })).toBe(events.length);
      const expected = Array.from({ length: versions }, (_, i) => i + 1);
      const docs = await views.find({ _id: { $in: ids } }).toArray();
      for (const doc of docs)
        expect({ id: doc._id, seqs: doc.seqs, applied: doc.applied }).toEqual({
          id: doc._id,
          seqs: expected,
          applied: versions,
        });
      const appliedBy = new Set(docs.flatMap((doc) => doc.workers));
      expect([...appliedBy].sort()).toEqual(['w1', 'w2']);
    } finally {
      await producer.disconnect();
      await client.close();
    }
  }, 90_000);
});
