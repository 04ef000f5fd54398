/**
 * The processed-event store and the exactly-once executor against the MongoDB of the ground,
 * through the real driver: indexes and retention, atomicity of marker and effect, and two workers
 * racing on one event.
 */
import { MongoClient, type ClientSession, type Collection } from 'mongodb';
import type { WorkerModuleOptions } from '../../libs/change-stream/src/worker/worker-module-options';
import { SharedEffectError } from '../../libs/change-stream/src/idempotency/effect-executor';
import { MongoEffectExecutor } from '../../libs/change-stream/src/idempotency/mongo-effect.executor';
import {
  ProcessedEventStore,
  type ProcessedMarker,
} from '../../libs/change-stream/src/idempotency/processed-event.store';
import { validateWorkerOptions } from '../../libs/change-stream/src/options/worker';
import { uniqueName, useGround } from '../support/ground';
import { waitFor } from '../support/wait';

const ground = useGround({ kafka: false });

describe('processed-event markers and the exactly-once executor', () => {
  let client: MongoClient;
  let storage: WorkerModuleOptions['storage'];
  let counters: Collection<{ _id: string; n: number }>;

  const options = (markerRetentionMs: number): WorkerModuleOptions => ({
    roles: { worker: true },
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

  it('keeps markers forever with markerRetentionMs Infinity (a topic that keeps messages forever): no TTL index', async () => {
    const store = new ProcessedEventStore(client, options(3_600_000));
    await store.ensureIndexes();
    await new ProcessedEventStore(client, options(Infinity)).ensureIndexes();
    const names = (await store.collection.listIndexes().toArray()).map((i) => i.name).sort();
    expect(names).toEqual(['_id_', 'handler_event_unique']);
    await new ProcessedEventStore(client, options(120_000)).ensureIndexes();
    const ttl = (await store.collection.listIndexes().toArray()).find((i) => i.name === 'processed_at_ttl');
    expect(ttl?.expireAfterSeconds).toBe(120);
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

  describe('a shared transaction (several events, one commit)', () => {
    const bump = (m: ProcessedMarker) => ({
      markers: [m],
      effect: (session: ClientSession) =>
        counters.updateOne({ _id: m.eventId }, { $inc: { n: 1 } }, { upsert: true, session }),
    });

    it('commits every effect and marker together, and effects read the earlier ones through the session', async () => {
      const store = new ProcessedEventStore(client, options(3_600_000));
      const executor = new MongoEffectExecutor(client, store);
      const markers = [marker(), marker(), marker()];
      const seenBySession: number[] = [];
      await executor.runShared([
        bump(markers[0]),
        bump(markers[1]),
        {
          markers: [markers[2]],
          effect: async (session) => {
            const first = await counters.findOne({ _id: markers[0].eventId }, { session });
            seenBySession.push(first?.n ?? 0);
            await bump(markers[2]).effect(session);
          },
        },
      ]);
      expect(seenBySession).toEqual([1]);
      expect(await Promise.all(markers.map((m) => count(m.eventId)))).toEqual([1, 1, 1]);
      expect(await Promise.all(markers.map((m) => store.exists(m)))).toEqual([true, true, true]);
    });

    it('applies nothing when one effect throws, and names which one', async () => {
      const store = new ProcessedEventStore(client, options(3_600_000));
      const executor = new MongoEffectExecutor(client, store);
      const markers = [marker(), marker(), marker()];
      const failing = {
        markers: [markers[1]],
        effect: async (session: ClientSession) => {
          await bump(markers[1]).effect(session);
          throw new Error('poison');
        },
      };
      const error = await executor.runShared([bump(markers[0]), failing, bump(markers[2])]).catch((e) => e);
      expect(error).toBeInstanceOf(SharedEffectError);
      expect(error).toMatchObject({ index: 1, cause: new Error('poison') });
      expect(await Promise.all(markers.map((m) => count(m.eventId)))).toEqual([0, 0, 0]);
      expect(await Promise.all(markers.map((m) => store.exists(m)))).toEqual([false, false, false]);
    });

    it('applies nothing when one of its events was processed before', async () => {
      const store = new ProcessedEventStore(client, options(3_600_000));
      const executor = new MongoEffectExecutor(client, store);
      const [done, fresh] = [marker(), marker()];
      await executor.run(done, true, bump(done).effect);
      const effect = jest.fn(bump(fresh).effect);
      await expect(executor.runShared([{ markers: [fresh], effect }, bump(done)])).rejects.toMatchObject({
        code: 11000,
      });
      expect(effect).not.toHaveBeenCalled();
      expect([await count(done.eventId), await count(fresh.eventId)]).toEqual([1, 0]);
      expect(await store.exists(fresh)).toBe(false);
    });

    it('runs a shared transaction again after a write conflict on a document both workers change', async () => {
      const store = new ProcessedEventStore(client, options(3_600_000));
      const executors = [new MongoEffectExecutor(client, store), new MongoEffectExecutor(client, store)];
      const hot = uniqueName('hot');
      const hotEffect = async (session: ClientSession) => {
        await counters.updateOne({ _id: hot }, { $inc: { n: 1 } }, { upsert: true, session });
        await new Promise((resolve) => setTimeout(resolve, 20));
      };
      await counters.insertOne({ _id: hot, n: 0 });
      const markers = [marker(), marker()];
      const results = await Promise.allSettled(
        executors.map((executor, i) =>
          executor.runShared([bump(markers[i]), { markers: [marker()], effect: hotEffect }]),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
      expect(await count(hot)).toBe(2);
      expect(await Promise.all(markers.map((m) => count(m.eventId)))).toEqual([1, 1]);
    });

    it("runs a shared transaction again while a handler's own write conflicts with an open transaction, and commits once it ended", async () => {
      // Relies on mongod failing a transaction's write at once with WriteConflict (112,
      // TransientTransactionError) when another open transaction wrote the document. That conflict is
      // nobody's failure: counted as the handler's, runShared would reject with a SharedEffectError.
      const store = new ProcessedEventStore(client, options(3_600_000));
      const executor = new MongoEffectExecutor(client, store);
      const hot = uniqueName('held');
      await counters.insertOne({ _id: hot, n: 0 });
      const holder = client.startSession();
      holder.startTransaction();
      await counters.updateOne({ _id: hot }, { $inc: { n: 10 } }, { session: holder });
      let calls = 0;
      const m = marker();
      const shared = executor.runShared([
        {
          markers: [m],
          effect: async (session) => {
            calls++;
            await counters.updateOne({ _id: hot }, { $inc: { n: 1 } }, { session });
          },
        },
      ]);
      try {
        await waitFor(() => calls >= 2, { what: 'the conflicting write retried' });
        // A shared transaction lasts about as long as its handlers (up to ~200 ms): the holder's does too.
        await new Promise((resolve) => setTimeout(resolve, 100));
        await holder.commitTransaction();
      } finally {
        await holder.endSession();
      }
      await expect(shared).resolves.toBeUndefined();
      expect(await count(hot)).toBe(11);
      expect(await store.exists(m)).toBe(true);
    });

    it('commits every one of many shared transactions writing the same document at once (partitions of one worker)', async () => {
      // Relies on mongod failing a write at once with WriteConflict while another open transaction
      // holds the document: 8 partitions' transactions, each ~40 ms long, retried in step, would keep
      // failing each other until their attempts ran out; a retry runs alone among the client's.
      const store = new ProcessedEventStore(client, options(3_600_000));
      const executor = new MongoEffectExecutor(client, store);
      const hot = uniqueName('hot');
      await counters.insertOne({ _id: hot, n: 0 });
      const partitions = Array.from({ length: 8 }, () =>
        executor.runShared([
          {
            markers: [marker()],
            effect: async (session) => {
              await counters.updateOne({ _id: hot }, { $inc: { n: 1 } }, { session });
              // The handler's other work, while the transaction holds the document.
              await new Promise((resolve) => setTimeout(resolve, 40));
            },
          },
        ]),
      );
      const results = await Promise.allSettled(partitions);
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      expect(await count(hot)).toBe(8);
    });

    it('lets only one of two workers sharing overlapping events commit', async () => {
      const store = new ProcessedEventStore(client, options(3_600_000));
      const executors = [new MongoEffectExecutor(client, store), new MongoEffectExecutor(client, store)];
      for (let round = 0; round < 3; round++) {
        const shared = marker();
        const own = [marker(), marker()];
        const results = await Promise.allSettled(
          executors.map((executor, i) =>
            executor.runShared([
              bump(own[i]),
              {
                markers: [shared],
                effect: async (session) => {
                  await bump(shared).effect(session);
                  await new Promise((resolve) => setTimeout(resolve, 20));
                },
              },
            ]),
          ),
        );
        expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
        const winner = results.findIndex((r) => r.status === 'fulfilled');
        expect(await count(shared.eventId)).toBe(1);
        expect(await Promise.all(own.map((m) => count(m.eventId)))).toEqual(
          own.map((_, i) => (i === winner ? 1 : 0)),
        );
      }
    });
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
