import { Timestamp, type Document } from 'bson';
import type { ChangeStreamCursor, OpenChangeStream } from './contract';
import { compareTimestamps } from './cluster-clock';
import { FakeHost } from './fake-host';
import {
  createChangeStreamEngine,
  type ChangeStreamEngineHandle,
  type ChangeStreamEngineOptions,
} from './engine';
import { decodeResumeToken, TokenType } from './resume-token';

describe('change-stream engine', () => {
  let host: FakeHost;
  let engine: ChangeStreamEngineHandle;

  const start = (options: ChangeStreamEngineOptions = {}) => {
    host = new FakeHost();
    host.ensure('db', 'c');
    engine = createChangeStreamEngine(host, { noopIntervalMs: 0, ...options });
  };
  const open = (request: Partial<OpenChangeStream> = {}) =>
    engine.open({ db: 'db', coll: 'c', spec: {}, pipeline: [], ...request });
  const next = (cursor: ChangeStreamCursor, batchSize?: number) => cursor.getMore(batchSize, 0);
  const errorOf = async (action: () => unknown) => {
    try {
      await action();
    } catch (error) {
      return error as { code: number; codeName: string; message: string; errorLabels: string[] };
    }
    throw new Error('expected an error');
  };

  beforeEach(() => start());
  afterEach(() => engine.close());

  describe('cluster times', () => {
    it('strictly increase, and the events of one record() share one with txnOpIndex order', async () => {
      const { cursor } = open();
      const first = engine.record([host.insert('db', 'c', { _id: 1 }), host.insert('db', 'c', { _id: 2 })]);
      const second = engine.record([host.insert('db', 'c', { _id: 3 })]);
      expect(compareTimestamps(second, first)).toBeGreaterThan(0);
      expect(engine.clusterTime()).toEqual(second);
      const { events } = await next(cursor);
      expect(events.map((e) => e.clusterTime)).toEqual([first, first, second]);
      expect(events.map((e) => decodeResumeToken(e._id).txnOpIndex)).toEqual([0, 1, 0]);
      const tokens = events.map((e) => e._id._data as string);
      expect([...tokens].sort()).toEqual(tokens);
    });
  });

  describe('scopes and invalidation', () => {
    it('a collection stream sees its collection only and is invalidated by its drop', async () => {
      const { cursor } = open();
      engine.record([host.insert('db', 'other', { _id: 1 }), host.insert('db', 'c', { _id: 2 })]);
      engine.record([host.drop('db', 'c')]);
      engine.record([host.insert('db', 'c', { _id: 3 })]);
      const batch = await next(cursor);
      expect(batch.events.map((e) => e.operationType)).toEqual(['insert', 'drop', 'invalidate']);
      expect(batch.events[2]).toEqual({
        _id: batch.postBatchResumeToken,
        operationType: 'invalidate',
        clusterTime: expect.any(Timestamp),
        wallTime: expect.any(Date),
      });
      expect(cursor.exhausted).toBe(true);
    });

    it('a rename invalidates the collection stream and carries `to`', async () => {
      const { cursor } = open();
      engine.record([{ op: 'rename', db: 'db', coll: 'c', to: { db: 'db', coll: 'd' } }]);
      const { events } = await next(cursor);
      expect(events[0]).toMatchObject({
        operationType: 'rename',
        ns: { db: 'db', coll: 'c' },
        to: { db: 'db', coll: 'd' },
      });
      expect(events[0].operationDescription).toBeUndefined();
      expect(events[1].operationType).toBe('invalidate');
    });

    it('a database stream sees every collection of its database and is invalidated by dropDatabase', async () => {
      const { cursor } = open({ coll: null });
      expect(cursor.ns).toBe('db.$cmd.aggregate');
      engine.record([
        host.insert('db', 'a', { _id: 1 }),
        host.insert('db2', 'a', { _id: 1 }),
        host.insert('db', 'system.views', { _id: 1 }),
      ]);
      engine.record([host.drop('db', 'a'), { op: 'dropDatabase', db: 'db' }]);
      const { events } = await next(cursor);
      expect(events.map((e) => [e.operationType, e.ns?.coll])).toEqual([
        ['insert', 'a'],
        ['drop', 'a'],
        ['dropDatabase', undefined],
        ['invalidate', undefined],
      ]);
    });

    it('a cluster stream sees all databases but the internal ones and is not invalidated', async () => {
      const { cursor } = engine.open({
        db: 'admin',
        coll: null,
        spec: { allChangesForCluster: true },
        pipeline: [],
      });
      engine.record([
        host.insert('x', 'a', { _id: 1 }),
        host.insert('config', 'a', { _id: 1 }),
        { op: 'dropDatabase', db: 'x' },
      ]);
      const { events } = await next(cursor);
      expect(events.map((e) => e.operationType)).toEqual(['insert', 'dropDatabase']);
      expect(cursor.exhausted).toBe(false);
    });

    it('shows DDL events and collectionUUID only with showExpandedEvents', async () => {
      const plain = open().cursor;
      const expanded = open({ spec: { showExpandedEvents: true } }).cursor;
      const uuid = host.collectionInfo('db', 'c')!.uuid;
      engine.record([
        {
          op: 'createIndexes',
          db: 'db',
          coll: 'c',
          operationDescription: { indexes: [{ v: 2, key: { x: 1 }, name: 'x_1' }] },
        },
      ]);
      engine.record([host.insert('db', 'c', { _id: 1 })]);
      expect((await next(plain)).events.map((e) => [e.operationType, e.collectionUUID])).toEqual([
        ['insert', undefined],
      ]);
      const events = (await next(expanded)).events;
      expect(events.map((e) => e.operationType)).toEqual(['createIndexes', 'insert']);
      expect(events[0].operationDescription).toEqual({ indexes: [{ v: 2, key: { x: 1 }, name: 'x_1' }] });
      expect(events[1].collectionUUID).toBe(uuid);
    });
  });

  describe('resuming', () => {
    it('resumeAfter an event continues right after it; startAtOperationTime includes its time', async () => {
      const { cursor } = open();
      const time = engine.record([host.insert('db', 'c', { _id: 1 }), host.insert('db', 'c', { _id: 2 })]);
      engine.record([host.insert('db', 'c', { _id: 3 })]);
      const events = (await next(cursor)).events;
      const resumed = open({ spec: { resumeAfter: events[0]._id } });
      expect(resumed.firstBatch.events.map((e) => e.documentKey._id)).toEqual([2, 3]);
      const fromTime = open({ spec: { startAtOperationTime: time } });
      expect(fromTime.firstBatch.events.map((e) => e.documentKey._id)).toEqual([1, 2, 3]);
    });

    it('startAfter an invalidate opens after it; resumeAfter an invalidate is InvalidResumeToken 260', async () => {
      const { cursor } = open();
      engine.record([host.drop('db', 'c')]);
      engine.record([host.insert('db', 'c', { _id: 9 })]);
      const invalidate = (await next(cursor)).events[1];
      expect(invalidate.operationType).toBe('invalidate');
      expect(
        open({ spec: { startAfter: invalidate._id } }).firstBatch.events.map((e) => e.documentKey._id),
      ).toEqual([9]);
      expect(await errorOf(() => open({ spec: { resumeAfter: invalidate._id } }))).toMatchObject({
        code: 260,
      });
    });

    it('a token of an event this stream never had is ChangeStreamFatalError 280', async () => {
      const { cursor } = open({ coll: 'other' });
      engine.record([host.insert('db', 'other', { _id: 1 })]);
      const token = (await next(cursor)).events[0]._id;
      expect(await errorOf(() => open({ spec: { resumeAfter: token } }))).toMatchObject({
        code: 280,
        errorLabels: ['NonResumableChangeStreamError'],
      });
    });

    it('a token older than the retained oplog is ChangeStreamHistoryLost 286', async () => {
      start({ oplogMaxEntries: 3 });
      const { cursor } = open();
      for (let id = 1; id <= 5; id++) engine.record([host.insert('db', 'c', { _id: id })]);
      const error = await errorOf(() => next(cursor));
      expect(error).toMatchObject({
        code: 286,
        codeName: 'ChangeStreamHistoryLost',
        errorLabels: ['NonResumableChangeStreamError'],
      });
      // mongod's getMore adds the executor context to every error of the scan (getmore_cmd.cpp).
      expect(error.message).toBe(
        'Executor error during getMore :: caused by :: ' +
          'Resume of change stream was not possible, as the resume point may no longer be in the oplog.',
      );
      expect(engine.oplogStats().entries).toBe(3);
    });

    it('keeps resuming within the retained oplog and loses history beyond it (entries and bytes)', async () => {
      start({ oplogMaxEntries: 3 });
      const { cursor } = open();
      const tokens: Document[] = [];
      for (let id = 1; id <= 3; id++) {
        engine.record([host.insert('db', 'c', { _id: id })]);
        tokens.push((await next(cursor)).events[0]._id);
      }
      engine.record([host.insert('db', 'c', { _id: 4 })]);
      expect(await errorOf(() => open({ spec: { resumeAfter: tokens[0] } }))).toMatchObject({ code: 286 });
      expect(
        open({ spec: { resumeAfter: tokens[1] } }).firstBatch.events.map((e) => e.documentKey._id),
      ).toEqual([3, 4]);

      start({ oplogMaxBytes: 2000 });
      for (let id = 1; id <= 20; id++)
        engine.record([host.insert('db', 'c', { _id: id, pad: 'x'.repeat(300) })]);
      expect(engine.oplogStats().bytes).toBeLessThanOrEqual(2000);
      expect(engine.oplogStats().entries).toBeLessThan(20);
    });

    it('truncate() loses all history: old tokens and operation times are 286, idle high-water marks still resume', async () => {
      const { cursor } = open();
      const time = engine.record([host.insert('db', 'c', { _id: 1 })]);
      const { events, postBatchResumeToken } = await next(cursor);
      engine.truncate();
      expect(await errorOf(() => open({ spec: { resumeAfter: events[0]._id } }))).toMatchObject({
        code: 286,
      });
      expect(await errorOf(() => open({ spec: { startAtOperationTime: time } }))).toMatchObject({
        code: 286,
      });
      expect(decodeResumeToken(postBatchResumeToken).tokenType).toBe(TokenType.HighWaterMark);
      const resumed = open({ spec: { resumeAfter: postBatchResumeToken } });
      engine.record([host.insert('db', 'c', { _id: 2 })]);
      expect((await next(resumed.cursor)).events.map((e) => e.documentKey._id)).toEqual([2]);
      expect(
        await errorOf(() => open({ spec: { startAtOperationTime: new Timestamp({ t: 1, i: 1 }) } })),
      ).toMatchObject({ code: 286 });
    });
  });

  describe('batches', () => {
    it('report a postBatchResumeToken on every batch: the last event, or a high-water mark that advances', async () => {
      const { cursor, firstBatch } = open();
      const idle = decodeResumeToken(firstBatch.postBatchResumeToken);
      expect(idle.tokenType).toBe(TokenType.HighWaterMark);
      engine.record([host.insert('db', 'other', { _id: 1 })]);
      const later = await next(cursor);
      expect(later.events).toEqual([]);
      expect(later.postBatchResumeToken._data > firstBatch.postBatchResumeToken._data).toBe(true);
      engine.record([host.insert('db', 'c', { _id: 1 }), host.insert('db', 'c', { _id: 2 })]);
      const limited = await next(cursor, 1);
      expect(limited.postBatchResumeToken).toEqual(limited.events[0]._id);
    });

    it('a batchSize of 0 opens with an empty first batch', () => {
      const time = engine.record([host.insert('db', 'c', { _id: 1 })]);
      expect(open({ spec: { startAtOperationTime: time } }).firstBatch.events).toHaveLength(1);
      expect(open({ spec: { startAtOperationTime: time }, batchSize: 0 }).firstBatch.events).toEqual([]);
    });

    it('the no-op writer advances the cluster time of an idle server', () => {
      let now = Date.now();
      jest.useFakeTimers();
      try {
        start({ noopIntervalMs: 10_000, now: () => now });
        const before = engine.clusterTime();
        now += 10_000;
        jest.advanceTimersByTime(10_000);
        expect(compareTimestamps(engine.clusterTime(), before)).toBeGreaterThan(0);
      } finally {
        engine.close();
        jest.useRealTimers();
      }
    });

    it('getMore waits for a matching write and wakes at once when record() adds one', async () => {
      jest.useFakeTimers();
      try {
        const { cursor } = open();
        const pending = cursor.getMore(undefined, 60_000);
        engine.record([host.insert('db', 'other', { _id: 1 })]);
        await Promise.resolve();
        engine.record([host.insert('db', 'c', { _id: 7 })]);
        const { events } = await pending;
        expect(events.map((e) => e.documentKey._id)).toEqual([7]);
      } finally {
        jest.useRealTimers();
      }
    });

    it('getMore returns an empty batch once maxTimeMS passes without events', async () => {
      jest.useFakeTimers();
      try {
        const { cursor } = open();
        const pending = cursor.getMore(undefined, 500);
        jest.advanceTimersByTime(500);
        expect((await pending).events).toEqual([]);
      } finally {
        jest.useRealTimers();
      }
    });
  });

  describe('event shapes and images', () => {
    it('update events carry updateDescription; fullDocument per mode', async () => {
      const lookup = open({ spec: { fullDocument: 'updateLookup' } }).cursor;
      const plain = open().cursor;
      engine.record([host.insert('db', 'c', { _id: 1, a: 1 })]);
      engine.record([host.update('db', 'c', { _id: 1, a: 2 }, { $set: { a: 2 } })]);
      engine.record([host.update('db', 'c', { _id: 1, a: 3 }, { $set: { a: 3 } })]);
      const [, update] = (await next(plain)).events;
      expect(Object.keys(update)).toEqual([
        '_id',
        'operationType',
        'clusterTime',
        'wallTime',
        'ns',
        'documentKey',
        'updateDescription',
      ]);
      expect(update.updateDescription).toEqual({
        updatedFields: { a: 2 },
        removedFields: [],
        truncatedArrays: [],
      });
      // updateLookup returns the current version, not the one of the event.
      expect((await next(lookup)).events[1].fullDocument).toEqual({ _id: 1, a: 3 });
    });

    it('pre- and post-images only when the collection had them enabled at write time', async () => {
      const spec = { fullDocument: 'whenAvailable', fullDocumentBeforeChange: 'whenAvailable' };
      const { cursor } = open({ spec });
      engine.record([host.insert('db', 'c', { _id: 1, a: 1 })]);
      engine.record([host.update('db', 'c', { _id: 1, a: 2 }, { $set: { a: 2 } })]);
      host.ensure('db', 'c', true);
      engine.record([host.update('db', 'c', { _id: 1, a: 3 }, { $set: { a: 3 } })]);
      engine.record([host.delete('db', 'c', 1)]);
      const [insert, without, withImages, deleted] = (await next(cursor)).events;
      expect(insert).not.toHaveProperty('fullDocumentBeforeChange');
      expect(without).toMatchObject({ fullDocument: null, fullDocumentBeforeChange: null });
      expect(withImages).toMatchObject({
        fullDocument: { _id: 1, a: 3 },
        fullDocumentBeforeChange: { _id: 1, a: 2 },
      });
      expect(deleted).toMatchObject({ fullDocumentBeforeChange: { _id: 1, a: 3 } });
      expect(deleted).not.toHaveProperty('fullDocument');
    });

    it('required images fail with NoMatchingDocument 47 when missing', async () => {
      const post = open({ spec: { fullDocument: 'required' } }).cursor;
      const pre = open({ spec: { fullDocumentBeforeChange: 'required' } }).cursor;
      engine.record([host.insert('db', 'c', { _id: 1 })]);
      engine.record([host.update('db', 'c', { _id: 1, a: 1 }, { $set: { a: 1 } })]);
      expect(await errorOf(() => next(post))).toMatchObject({ code: 47, codeName: 'NoMatchingDocument' });
      expect(await errorOf(() => next(pre))).toMatchObject({ code: 47, codeName: 'NoMatchingDocument' });
    });

    it('transaction events carry lsid and txnNumber', async () => {
      const { cursor } = open();
      const lsid = { id: 'session' };
      engine.record([{ ...host.insert('db', 'c', { _id: 1 }), lsid, txnNumber: 5 as never }]);
      expect((await next(cursor)).events[0]).toMatchObject({ lsid, txnNumber: 5 });
    });
  });

  describe('pipelines', () => {
    it('evaluates stages after $changeStream on each event', async () => {
      const { cursor } = open({
        pipeline: [{ $match: { 'fullDocument.z': 3 } }, { $project: { optype: '$operationType', ns: 1 } }],
      });
      engine.record([host.insert('db', 'c', { _id: 1, z: 2 }), host.insert('db', 'c', { _id: 2, z: 3 })]);
      const { events } = await next(cursor);
      expect(events).toEqual([{ _id: expect.any(Object), optype: 'insert', ns: { db: 'db', coll: 'c' } }]);
      expect(Object.keys(events[0])[0]).toBe('_id');
    });

    it('a stage that modifies _id is ChangeStreamFatalError 280', async () => {
      const { cursor } = open({ pipeline: [{ $project: { _id: 0 } }] });
      engine.record([host.insert('db', 'c', { _id: 1 })]);
      const error = await errorOf(() => next(cursor));
      expect(error).toMatchObject({
        code: 280,
        codeName: 'ChangeStreamFatalError',
        errorLabels: ['NonResumableChangeStreamError'],
      });
      expect(error.message).toContain(
        'Encountered an event whose _id field, which contains the resume token, was modified by the pipeline',
      );
    });

    it.each([
      [[{ $unsupported: 'foo' }], 40324],
      [[{ $group: { _id: null } }], 20],
      [[{ $changeStream: {} }], 40602],
      [[{ $match: {}, $project: {} }], 40323],
    ])('rejects the pipeline %j with %d', async (pipeline, code) => {
      expect(await errorOf(() => open({ pipeline }))).toMatchObject({ code });
    });

    it.each([
      [{ bogus: 1 }, 40415],
      [{ fullDocument: 'sometimes' }, 2],
      [{ resumeAfter: { _data: 'zz' } }, 260],
      [{ startAtOperationTime: 5 }, 14],
      [{ resumeAfter: { _data: '82' }, startAtOperationTime: new Timestamp({ t: 1, i: 1 }) }, 40674],
    ])('rejects the $changeStream spec %j with %d', async (spec, code) => {
      expect(await errorOf(() => open({ spec }))).toMatchObject({ code });
    });

    it('refuses streams on internal databases and misplaced cluster streams (InvalidNamespace 73)', async () => {
      expect(
        await errorOf(() => engine.open({ db: 'admin', coll: null, spec: {}, pipeline: [] })),
      ).toMatchObject({ code: 73 });
      expect(await errorOf(() => open({ spec: { allChangesForCluster: true } }))).toMatchObject({ code: 73 });
    });
  });

  it('names what is wrong with a bad WriteEvent', () => {
    expect(() => engine.record([{ op: 'upsert' } as never])).toThrow(
      "record(): WriteEvent #0 has unknown op 'upsert'",
    );
    expect(() => engine.record([{ op: 'insert', db: 'db' } as never])).toThrow(
      "needs a collection name 'coll'",
    );
  });
});
