import { Timestamp } from 'bson';
import { DEFAULTS } from '../options/defaults';
import { resolveOptions } from '../options/resolve-options';
import type { StreamOptions } from '../interfaces/change-stream-options.interface';
import { EMPTY_POSITION } from './checkpoint.store';
import { buildPipeline, changeStreamPipeline, EXACT_BSON, watchOptions } from './stream-pipeline';

const resolve = (stream: StreamOptions, excludeNamespaces?: string[]) => {
  const options = resolveOptions({
    mongo: { uri: 'mongodb://h:1' },
    kafka: { brokers: ['h:1'] },
    streams: [stream],
    excludeNamespaces,
  });
  return { stream: options.streams[0], excluded: options.excludeNamespaces, relay: options.relay };
};

describe('buildPipeline', () => {
  it('adds nothing for a single collection without filters', () => {
    const { stream, excluded } = resolve({ db: 'shop', collection: 'orders' });
    expect(buildPipeline(stream, excluded)).toEqual([]);
  });

  it('never watches the library collections of a watched database, nor user exclusions', () => {
    const { stream, excluded } = resolve({ db: DEFAULTS.storage.database }, ['nest_change_stream.audit']);
    expect(buildPipeline(stream, excluded)).toEqual([
      {
        $match: {
          $nor: [
            { 'ns.db': 'nest_change_stream', 'ns.coll': 'audit' },
            { 'ns.db': 'nest_change_stream', 'ns.coll': 'change_stream_checkpoints' },
            { 'ns.db': 'nest_change_stream', 'ns.coll': 'change_stream_leases' },
            { 'ns.db': 'nest_change_stream', 'ns.coll': 'change_stream_processed' },
            { 'ns.db': 'nest_change_stream', 'ns.coll': 'change_stream_offsets' },
          ],
        },
      },
    ]);
  });

  it('filters collections and operation types but always lets invalidate through, then appends the user stages', () => {
    const { stream, excluded } = resolve({
      db: 'shop',
      collections: ['orders', 'carts'],
      operationTypes: ['insert', 'update'],
      pipeline: [{ $project: { 'fullDocument.secret': 0 } }],
    });
    expect(buildPipeline(stream, excluded)).toEqual([
      {
        $match: {
          $or: [
            { 'ns.coll': { $in: ['orders', 'carts'] } },
            { operationType: { $in: ['dropDatabase', 'invalidate'] } },
          ],
        },
      },
      { $match: { operationType: { $in: ['insert', 'update', 'invalidate'] } } },
      { $project: { 'fullDocument.secret': 0 } },
    ]);
  });

  it('the watch pipeline ends with $changeStreamSplitLargeEvent only with splitLargeEvents (a scan never has it)', () => {
    const user = [{ $project: { 'fullDocument.secret': 0 } }];
    const split = resolve({ db: 'shop', collection: 'orders', pipeline: user, splitLargeEvents: true });
    expect(changeStreamPipeline(split.stream, split.excluded)).toEqual([
      ...user,
      { $changeStreamSplitLargeEvent: {} },
    ]);
    expect(buildPipeline(split.stream, split.excluded)).toEqual(user);
    const plain = resolve({ db: 'shop', collection: 'orders', pipeline: user });
    expect(changeStreamPipeline(plain.stream, plain.excluded)).toEqual(user);
  });
});

describe('watchOptions', () => {
  it('decodes events keeping every BSON type (issue 15, item 11)', () => {
    const { stream, relay } = resolve({ db: 'shop', collection: 'orders' });
    expect(watchOptions(stream, relay, EMPTY_POSITION)).toMatchObject({
      promoteLongs: false,
      promoteValues: false,
      bsonRegExp: true,
    });
  });

  const { stream, relay } = resolve({ db: 'shop', collection: 'orders', fullDocument: 'updateLookup' });
  const token = { _data: '8263' };

  it('resumes after a token, starts after an invalidate, or starts at an operation time', () => {
    expect(watchOptions(stream, relay, { ...EMPTY_POSITION, resumeToken: token })).toEqual({
      ...EXACT_BSON,
      batchSize: 500,
      maxAwaitTimeMS: 1_000,
      fullDocument: 'updateLookup',
      resumeAfter: token,
    });
    expect(
      watchOptions(stream, relay, { ...EMPTY_POSITION, resumeToken: token, startAfter: true }),
    ).toMatchObject({ startAfter: token });
    const time = new Timestamp({ t: 10, i: 1 });
    expect(watchOptions(stream, relay, { ...EMPTY_POSITION, startAtOperationTime: time })).toMatchObject({
      startAtOperationTime: time,
    });
    expect(watchOptions(stream, relay, EMPTY_POSITION)).not.toHaveProperty('resumeAfter');
  });
});
