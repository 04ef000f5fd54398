/**
 * Change events over mongod's 16 MB limit, as mongod 7.0 treats them: BSONObjectTooLarge (10334)
 * without `$changeStreamSplitLargeEvent`; fragments with their own resume tokens with it
 * (document_source_change_stream_split_large_event.cpp, change_stream_split_event_helpers.cpp).
 */
import { calculateObjectSize, type Document } from 'bson';
import type { ChangeStreamCursor, OpenChangeStream } from './contract';
import { createChangeStreamEngine, type ChangeStreamEngineHandle } from './engine';
import { FakeHost } from './fake-host';
import { decodeResumeToken } from './resume-token';
import { BSON_OBJ_MAX_INTERNAL_SIZE, MAX_CHANGE_EVENT_SIZE } from './split-event';

const MB = 1024 * 1024;
const SPLIT = { $changeStreamSplitLargeEvent: {} };

describe('change-stream engine: events over 16 MB', () => {
  let host: FakeHost;
  let engine: ChangeStreamEngineHandle;

  const open = (request: Partial<OpenChangeStream> = {}) =>
    engine.open({
      db: 'db',
      coll: 'c',
      spec: { fullDocument: 'updateLookup' },
      pipeline: [],
      ...request,
    });
  const next = (cursor: ChangeStreamCursor) => cursor.getMore(undefined, 0);
  const errorOf = async (action: () => unknown) => {
    try {
      await action();
    } catch (error) {
      return error as { code: number; codeName: string; message: string; errorLabels: string[] };
    }
    throw new Error('expected an error');
  };
  /** A 6 MB document updated with another 6 MB field: updateDescription 6 MB + fullDocument 12 MB. */
  const writeLargeUpdate = (id = 1) => {
    engine.record([host.insert('db', 'c', { _id: id, a: 'a'.repeat(6 * MB) })]);
    const after = { _id: id, a: 'a'.repeat(6 * MB), b: 'b'.repeat(6 * MB) };
    return engine.record([host.update('db', 'c', after, { $set: { b: after.b } })]);
  };
  const withoutSplitFields = ({ _id, splitEvent, ...rest }: Document) => (void _id, void splitEvent, rest);

  beforeEach(() => {
    host = new FakeHost();
    host.ensure('db', 'c');
    engine = createChangeStreamEngine(host, { noopIntervalMs: 0 });
  });
  afterEach(() => engine.close());

  it('without the split stage, an event over 16 MB + 16 KB fails the getMore with BSONObjectTooLarge 10334', async () => {
    const { cursor } = open();
    writeLargeUpdate();
    const error = await errorOf(async () => {
      await next(cursor);
      await next(cursor);
    });
    expect(error).toMatchObject({ code: 10334, codeName: 'BSONObjectTooLarge' });
    expect(error.errorLabels ?? []).not.toContain('ResumableChangeStreamError');
    expect(error.message).toMatch(
      /^Executor error during getMore :: caused by :: BSONObj size: \d+ \(0x[0-9A-F]+\) is invalid\. Size must be between 0 and 16793600\(16MB\) First element: _id: \{ _data: "[0-9A-F]+" \}$/,
    );
    expect(BSON_OBJ_MAX_INTERNAL_SIZE).toBe(16_793_600);
  });

  it('with the split stage last, the event comes as fragments { splitEvent: { fragment, of } }, each with its own token', async () => {
    const { cursor } = open({ pipeline: [SPLIT] });
    writeLargeUpdate();
    const events: Document[] = [];
    for (let i = 0; i < 4; i++) events.push(...(await next(cursor)).events);
    const [insert, ...fragments] = events;
    expect(insert.operationType).toBe('insert');
    expect(fragments.map((f) => f.splitEvent)).toEqual([
      { fragment: 1, of: 2 },
      { fragment: 2, of: 2 },
    ]);
    for (const fragment of fragments) {
      expect(Object.keys(fragment).slice(0, 2)).toEqual(['_id', 'splitEvent']);
      expect(calculateObjectSize(fragment)).toBeLessThanOrEqual(MAX_CHANGE_EVENT_SIZE);
    }
    expect(fragments.map((f) => decodeResumeToken(f._id).fragmentNum)).toEqual([0, 1]);
    const tokens = fragments.map((f) => f._id._data as string);
    expect([...tokens].sort()).toEqual(tokens);
    // Smallest fields first: the first fragment holds the event's metadata and documentKey, the last the biggest field.
    expect(fragments[0]).toMatchObject({ operationType: 'update', documentKey: { _id: 1 } });
    expect(fragments[0].updateDescription.updatedFields.b).toHaveLength(6 * MB);
    expect(fragments[1].documentKey).toBeUndefined();
    expect(Object.keys(withoutSplitFields(fragments[1]))).toEqual(['fullDocument']);
  });

  it('resumes after a fragment with the next fragment, then the events after it', async () => {
    const { cursor } = open({ pipeline: [SPLIT] });
    writeLargeUpdate();
    engine.record([host.insert('db', 'c', { _id: 2 })]);
    const events: Document[] = [];
    for (let i = 0; i < 5; i++) events.push(...(await next(cursor)).events);
    const first = events.find((e) => e.splitEvent?.fragment === 1)!;
    const resumed = open({
      pipeline: [SPLIT],
      spec: { fullDocument: 'updateLookup', resumeAfter: first._id },
    });
    const after: Document[] = [...resumed.firstBatch.events];
    for (let i = 0; i < 3; i++) after.push(...(await next(resumed.cursor)).events);
    expect(after.map((e) => e.splitEvent ?? e.operationType)).toEqual([{ fragment: 2, of: 2 }, 'insert']);
  });

  it('refuses a misplaced or non-empty split stage, and a fragment token without the stage', async () => {
    expect(await errorOf(() => open({ pipeline: [SPLIT, { $match: {} }] }))).toMatchObject({
      code: 7182802,
      message: '$changeStreamSplitLargeEvent must be the last stage in the pipeline',
    });
    expect(
      await errorOf(() => open({ pipeline: [{ $changeStreamSplitLargeEvent: { x: 1 } }] })),
    ).toMatchObject({
      code: 7182800,
    });
    const { cursor } = open({ pipeline: [SPLIT] });
    writeLargeUpdate();
    const events: Document[] = [];
    for (let i = 0; i < 4; i++) events.push(...(await next(cursor)).events);
    const fragment = events.find((e) => e.splitEvent)!;
    expect(await errorOf(() => open({ spec: { resumeAfter: fragment._id } }))).toMatchObject({
      code: 280,
      message:
        'To resume from a split event, the $changeStream pipeline must include a $changeStreamSplitLargeEvent stage',
    });
    // The same token with a pipeline that no longer makes the event large: mongod cannot find the split point.
    const small = () =>
      open({
        pipeline: [{ $project: { fullDocument: 0 } }, SPLIT],
        spec: { fullDocument: 'updateLookup', resumeAfter: fragment._id },
      });
    expect(await errorOf(small)).toMatchObject({
      code: 280,
      message: expect.stringContaining('the event in the resumed stream was not large enough to be split'),
    });
  });

  it("280 for a pipeline that modifies _id names the expected and the found _id, as mongod's", async () => {
    const { cursor } = open({ pipeline: [{ $set: { _id: 'x' } }] });
    engine.record([host.insert('db', 'c', { _id: 1 })]);
    const error = await errorOf(() => next(cursor));
    expect(error).toMatchObject({ code: 280, errorLabels: ['NonResumableChangeStreamError'] });
    expect(error.message).toMatch(
      /was modified by the pipeline\. .* Expected: \{ _id: \{ _data: "[0-9A-F]+" \} \} but found: \{ _id: "x" \}$/,
    );
  });
});
