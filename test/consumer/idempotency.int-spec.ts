/**
 * The processed-event store and the exactly-once executor against the MongoDB of the ground,
 * through the real driver: indexes and retention, atomicity of marker and effect, and two workers
 * racing on one event.
 */
import { MongoClient, type Collection } from 'mongodb';
import type { ConsumerOptions } from '../../libs/change-stream/src/consumer/consumer-options';
import { MongoEffectExecutor } from '../../libs/change-stream/src/idempotency/mongo-effect.executor';
import {
  ProcessedEventStore,
  type ProcessedMarker,
} from '../../libs/change-stream/src/idempotency/processed-event.store';
import { validateWorkerOptions } from '../../libs/change-stream/src/interfaces/worker-options.interface';
import { uniqueName, useGround } from '../support/ground';

const ground = useGround({ kafka: false });

describe('processed-event markers and the exactly-once executor', () => {
  let client: MongoClient;
  let storage: ConsumerOptions['storage'];
  let counters: Collection<{ _id: string; n: number }>;

  const options = (markerRetentionMs: number): ConsumerOptions => ({
    consumer: true,
    worker: validateWorkerOptions({ markerRetentionMs }),
    streams: [],
    excludeNamespaces: [],
    kafka: { topicPrefix: 'cdc' },
    storage,
  });
  const marker = (eventId = uniqueName('ev')): ProcessedMarker => ({
    handlerId: 'H.m',
    eventId,
    topic: 't',
    partition: 0,
    offset: '1',
  });
  const count = async (id: string) => (await counters.findOne({ _id: id }))?.n ?? 0;

  beforeAll(async () => {
    client = await new MongoClient(ground().mongoUrl).connect();
    storage = { database: uniqueName('lib'), processed: 'processed' };
    counters = client.db(uniqueName('app')).collection('counters');
  });
  afterAll(() => client?.close());

  it('creates a unique (handler, event) index and a TTL index, and follows a changed retention', async () => {
    const store = new ProcessedEventStore(client, options(3_600_000));
    await store.ensureIndexes();
    await store.ensureIndexes();
    const indexes = async () =>
      Object.fromEntries((await store.collection.listIndexes().toArray()).map((i) => [i.name, i]));
    expect(await indexes()).toMatchObject({
      handler_event_unique: { key: { handlerId: 1, eventId: 1 }, unique: true },
      processed_at_ttl: { key: { processedAt: 1 }, expireAfterSeconds: 3600 },
    });
    await new ProcessedEventStore(client, options(90_500)).ensureIndexes();
    expect((await indexes()).processed_at_ttl.expireAfterSeconds).toBe(91);
  });

  it('commits the effect with its marker, once; a repeat finds the marker and does not run the effect', async () => {
    const store = new ProcessedEventStore(client, options(3_600_000));
    const executor = new MongoEffectExecutor(client, store);
    const m = marker();
    const effect = jest.fn((session) =>
      counters.updateOne({ _id: m.eventId }, { $inc: { n: 1 } }, { upsert: true, session }),
    );

    expect(await executor.run(m, true, effect)).toBe('applied');
    expect(await executor.run(m, true, effect)).toBe('duplicate');
    expect(effect).toHaveBeenCalledTimes(1);
    expect(await count(m.eventId)).toBe(1);
    expect(await store.exists(m)).toBe(true);
  });

  it('leaves neither marker nor writes when the effect fails, so a retry applies it', async () => {
    const store = new ProcessedEventStore(client, options(3_600_000));
    const executor = new MongoEffectExecutor(client, store);
    const m = marker();
    await expect(
      executor.run(m, true, async (session) => {
        await counters.updateOne({ _id: m.eventId }, { $inc: { n: 1 } }, { upsert: true, session });
        throw new Error('handler failed after writing');
      }),
    ).rejects.toThrow('handler failed after writing');
    expect(await count(m.eventId)).toBe(0);
    expect(await store.exists(m)).toBe(false);

    expect(
      await executor.run(m, true, (session) =>
        counters.updateOne({ _id: m.eventId }, { $inc: { n: 1 } }, { upsert: true, session }),
      ),
    ).toBe('applied');
    expect(await count(m.eventId)).toBe(1);
  });

  it('lets exactly one of two workers racing on the same event apply it', async () => {
    const store = new ProcessedEventStore(client, options(3_600_000));
    const executors = [new MongoEffectExecutor(client, store), new MongoEffectExecutor(client, store)];
    for (let round = 0; round < 5; round++) {
      const m = marker();
      const outcomes = await Promise.all(
        executors.map((executor) =>
          executor.run(m, true, async (session) => {
            await counters.updateOne({ _id: m.eventId }, { $inc: { n: 1 } }, { upsert: true, session });
            await new Promise((resolve) => setTimeout(resolve, 20));
          }),
        ),
      );
      expect(outcomes.sort()).toEqual(['applied', 'duplicate']);
      expect(await count(m.eventId)).toBe(1);
    }
  });

  it('without a transaction, checks the marker before and writes it after the effect', async () => {
    const store = new ProcessedEventStore(client, options(3_600_000));
    const executor = new MongoEffectExecutor(client, store);
    const m = marker();
    const seen: boolean[] = [];
    const effect = jest.fn(async () => void seen.push(await store.exists(m)));

    expect(await executor.run(m, false, effect)).toBe('applied');
    expect(seen).toEqual([false]);
    expect(await executor.run(m, false, effect)).toBe('duplicate');
    expect(effect).toHaveBeenCalledTimes(1);

    const failing = marker();
    await expect(
      executor.run(failing, false, async () => Promise.reject(new Error('smtp down'))),
    ).rejects.toThrow('smtp down');
    expect(await store.exists(failing)).toBe(false);
  });
});
