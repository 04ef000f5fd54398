/**
 * `worker.dedupe: 'offsets'` in the exactly-once executor, against the MongoDB of the ground through
 * the real driver: one applied-offset document per (group, topic, partition) moved in the effects'
 * transaction, redeliveries skipped by it, and two workers racing on a partition (each with its own
 * cache, as two processes) never applying an effect twice. Relies on mongod's upsert behaviour: an
 * upsert whose filter (`_id` + `version`) matches nothing inserts, and fails with a duplicate key
 * (11000) when a document with that `_id` exists; a concurrent transaction's write is a WriteConflict.
 */
import { MongoClient, type ClientSession, type Collection } from 'mongodb';
import type { WorkerModuleOptions } from '../../libs/change-stream/src/worker/worker-module-options';
import { AppliedOffsetStore } from '../../libs/change-stream/src/idempotency/applied-offset.store';
import type { SharedEffect } from '../../libs/change-stream/src/idempotency/effect-executor';
import { MongoEffectExecutor } from '../../libs/change-stream/src/idempotency/mongo-effect.executor';
import {
  ProcessedEventStore,
  type ProcessedMarker,
} from '../../libs/change-stream/src/idempotency/processed-event.store';
import { validateWorkerOptions } from '../../libs/change-stream/src/options/worker';
import { uniqueName, useGround } from '../support/ground';

const ground = useGround({ kafka: false });

describe("applied offsets (worker.dedupe: 'offsets') in the executor", () => {
  let client: MongoClient;
  let options: WorkerModuleOptions;
  let counters: Collection<{ _id: string; n: number }>;
  let topic: string;

  /** One worker process: its own offset cache. */
  const worker = () => {
    const store = new ProcessedEventStore(client, options);
    const offsets = new AppliedOffsetStore(client, options);
    return { executor: new MongoEffectExecutor(client, store, offsets), offsets, store };
  };
  const marker = (offset: number, handlerId = 'H.m'): ProcessedMarker => ({
    handlerId,
    eventId: `${topic}-${offset}`,
    topic,
    partition: 0,
    offset: String(offset),
  });
  const bump = (m: ProcessedMarker, pauseMs = 0): SharedEffect => ({
    markers: [m],
    effect: async (session: ClientSession) => {
      await counters.updateOne(
        { _id: `${m.handlerId}/${m.eventId}` },
        { $inc: { n: 1 } },
        { upsert: true, session },
      );
      if (pauseMs) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    },
  });
  const counts = async (markers: ProcessedMarker[]) =>
    Promise.all(
      markers.map(async (m) => (await counters.findOne({ _id: `${m.handlerId}/${m.eventId}` }))?.n ?? 0),
    );
  const batch = (from: number, to: number, handlerId = 'H.m') =>
    Array.from({ length: to - from + 1 }, (_, i) => marker(from + i, handlerId));

  beforeAll(async () => {
    client = await new MongoClient(ground().mongoUrl).connect();
    options = {
      roles: { worker: true },
      worker: validateWorkerOptions({ groupId: uniqueName('group'), dedupe: 'offsets' }),
      streams: [],
      excludeNamespaces: [],
      kafka: { topicPrefix: 'cdc' },
      storage: { database: uniqueName('lib'), processed: 'processed', offsets: 'offsets' },
    };
    counters = client.db(uniqueName('app')).collection('counters');
  });
  beforeEach(() => {
    topic = uniqueName('t');
  });
  afterAll(() => client?.close());

  it('moves one document per partition in the shared transaction, writes no marker, and skips a redelivery after a restart', async () => {
    const first = worker();
    const markers = batch(0, 4);
    await first.executor.runShared(markers.map((m) => bump(m)));
    const docs = await first.offsets.collection.find({ topic }).toArray();
    expect(docs).toEqual([
      expect.objectContaining({
        groupId: options.worker.groupId,
        topic,
        partition: 0,
        offset: 4,
        partial: null,
      }),
    ]);
    expect(await first.store.collection.countDocuments({ topic })).toBe(0);

    // A restarted worker (empty cache) gets the batch again: every effect is a duplicate, none runs.
    const restarted = worker();
    const effects = markers.map((m) => ({ ...bump(m), effect: jest.fn(bump(m).effect) }));
    expect(await restarted.executor.runShared(effects)).toEqual(Array(5).fill('duplicate'));
    for (const m of markers) expect(await restarted.executor.run(m, true, bump(m).effect)).toBe('duplicate');
    effects.forEach((e) => expect(e.effect).not.toHaveBeenCalled());
    expect(await counts(markers)).toEqual([1, 1, 1, 1, 1]);

    // Partly redelivered: the applied part is skipped, the rest applied, in one transaction.
    expect(await restarted.executor.runShared(batch(3, 6).map((m) => bump(m)))).toEqual([
      'duplicate',
      'duplicate',
      'applied',
      'applied',
    ]);
    expect(await counts(batch(0, 6))).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(await first.offsets.collection.countDocuments({ topic })).toBe(1);
  });

  it('lets two workers racing on the same batches apply each effect once (a zombie and the new owner)', async () => {
    const [a, b] = [worker(), worker()];
    for (let round = 0; round < 4; round++) {
      const markers = batch(round * 3, round * 3 + 2);
      const results = await Promise.allSettled(
        [a, b].map(({ executor }) => executor.runShared(markers.map((m) => bump(m, 15)))),
      );
      // The loser either saw the winner's offset (all duplicates) or failed and would go one by one: both skip.
      for (const { executor } of [a, b]) for (const m of markers) await executor.run(m, true, bump(m).effect);
      expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
      expect(await counts(markers)).toEqual([1, 1, 1]);
    }
  });

  it('refuses a write from a stale cache: the zombie re-reads and skips what the new owner applied', async () => {
    const zombie = worker();
    const owner = worker();
    await zombie.executor.runShared(batch(0, 1).map((m) => bump(m)));
    // The new owner applies 2..5 while the zombie still believes 1 is the last applied offset.
    await owner.executor.runShared(batch(2, 5).map((m) => bump(m)));
    const late = batch(2, 7).map((m) => ({ ...bump(m), effect: jest.fn(bump(m).effect) }));
    expect(await zombie.executor.runShared(late)).toEqual([
      ...Array(4).fill('duplicate'),
      'applied',
      'applied',
    ]);
    // NOTE: the offset is compared at the end of the transaction: the stale first attempt ran the effects
    // and was rolled back; after the re-read the applied ones are skipped, so each took effect once.
    late.slice(0, 4).forEach((e) => expect(e.effect.mock.calls.length).toBeLessThanOrEqual(1));
    expect(await counts(batch(0, 7))).toEqual(Array(8).fill(1));
  });

  it("remembers one handler's transaction on a message, so a crash before the next handler's applies neither twice", async () => {
    const first = worker();
    await first.executor.runShared([bump(marker(0, 'H.a')), bump(marker(0, 'H.b'))]);
    // Message 1 after a failed shared transaction: H.a applies alone, then the worker dies.
    expect(await first.executor.run(marker(1, 'H.a'), true, bump(marker(1, 'H.a')).effect)).toBe('applied');

    const restarted = worker();
    expect(await restarted.executor.run(marker(1, 'H.a'), true, bump(marker(1, 'H.a')).effect)).toBe(
      'duplicate',
    );
    expect(await restarted.executor.run(marker(1, 'H.b'), true, bump(marker(1, 'H.b')).effect)).toBe(
      'applied',
    );
    expect(await counts([marker(1, 'H.a'), marker(1, 'H.b')])).toEqual([1, 1]);
    // The next shared transaction settles message 1 and moves on.
    await restarted.executor.runShared([bump(marker(2, 'H.a')), bump(marker(2, 'H.b'))]);
    expect(await restarted.offsets.collection.findOne({ topic })).toMatchObject({ offset: 2, partial: null });
  });

  it('moves the offset past a dead-lettered message (and keeps its marker for the re-drive)', async () => {
    const first = worker();
    await first.executor.recordDeadLettered(marker(0), true);
    expect(await first.store.outcomeOf('H.m', marker(0).eventId)).toBe('dead-lettered');
    const restarted = worker();
    const effect = jest.fn(bump(marker(0)).effect);
    expect(await restarted.executor.run(marker(0), true, effect)).toBe('duplicate');
    expect(effect).not.toHaveBeenCalled();
  });

  it('keeps markers for an effect outside MongoDB transactions (transaction: false)', async () => {
    const { executor, store, offsets } = worker();
    const m = marker(0, 'H.plain');
    expect(await executor.run(m, false, bump(m).effect)).toBe('applied');
    expect(await executor.run(m, false, bump(m).effect)).toBe('duplicate');
    expect(await store.exists(m)).toBe(true);
    expect(await offsets.collection.countDocuments({ topic })).toBe(0);
  });

  // mongod keeps a transaction whose client died (a SIGKILLed worker) open, with its writes' locks,
  // until transactionLifetimeLimitSeconds (60 s); a write of another transaction to one of those
  // documents gets a WriteConflict until then. So the offset is written last: a worker killed while
  // its handlers ran holds only the documents they wrote, not its partition's offset document.
  it('writes the offset last: a transaction abandoned while its handlers ran does not hold the partition', async () => {
    const dead = worker();
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const abandoned: SharedEffect = {
      markers: [marker(0)],
      effect: async () => {
        started();
        await new Promise(() => undefined); // the process died here: the transaction is never ended
      },
    };
    void dead.executor.runShared([abandoned]);
    await running;

    const owner = worker();
    const later = batch(1, 3);
    await owner.executor.runShared(later.map((m) => bump(m)));

    expect(await counts(later)).toEqual([1, 1, 1]);
    expect(await owner.offsets.collection.findOne({ topic })).toMatchObject({ offset: 3 });
  });
});
