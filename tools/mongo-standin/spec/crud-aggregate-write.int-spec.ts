/**
 * The writing aggregation stages through the real driver, as mongod 7.0 runs them (references:
 * the driver CRUD spec files aggregate-out.json, aggregate-merge.json,
 * aggregate-merge-errorResponse.json, db-aggregate.json): `$out` replaces a collection by the
 * results, `$merge` writes them into one, both only as the last stage; `$listLocalSessions` lists
 * sessions.
 */
import { type ChangeStreamDocument, type Db } from 'mongodb';
import { useStandin } from './use-standin';

describe('MongoDB stand-in: $out, $merge and $listLocalSessions', () => {
  const standin = useStandin('aggwrite');
  const client = () => standin.client();
  let db: Db;

  beforeEach(async () => {
    db = standin.freshDb();
    await db.collection('source').insertMany([
      { _id: 1, x: 11 },
      { _id: 2, x: 22 },
      { _id: 3, x: 33 },
    ] as never[]);
  });

  const outPipeline = (stage: object) => [{ $sort: { x: 1 } }, { $match: { _id: { $gt: 1 } } }, stage];

  it('$out replaces the target by the results, keeping its indexes, and answers an empty cursor', async () => {
    const target = db.collection('target');
    await target.insertOne({ _id: 9, x: 'old' } as never);
    await target.createIndex({ x: 1 }, { name: 'x_1' });
    const returned = await db
      .collection('source')
      .aggregate(outPipeline({ $out: 'target' }))
      .toArray();
    expect(returned).toEqual([]);
    expect(await target.find().toArray()).toEqual([
      { _id: 2, x: 22 },
      { _id: 3, x: 33 },
    ]);
    expect((await target.indexes()).map((index) => index.name)).toEqual(['_id_', 'x_1']);
    const names = (await db.listCollections().toArray()).map((entry) => entry.name).sort();
    expect(names).toEqual(['source', 'target']);
  });

  it('$out leaves the target untouched when a result breaks a unique index', async () => {
    const target = db.collection('unique');
    await target.insertOne({ _id: 9, y: 1 } as never);
    await target.createIndex({ y: 1 }, { unique: true });
    await expect(
      db
        .collection('source')
        .aggregate([{ $set: { y: 1 } }, { $out: 'unique' }])
        .toArray(),
    ).rejects.toMatchObject({ code: 11000 });
    expect(await target.find().toArray()).toEqual([{ _id: 9, y: 1 }]);
    expect((await db.listCollections().toArray()).map((entry) => entry.name).sort()).toEqual([
      'source',
      'unique',
    ]);
  });

  it('$out reaches a change stream as inserts into a tmp.agg_out collection renamed over the target', async () => {
    const stream = db.watch([], { showExpandedEvents: true });
    await stream.tryNext();
    await db
      .collection('source')
      .aggregate(outPipeline({ $out: 'streamed' }))
      .toArray();
    const events: ChangeStreamDocument[] = [];
    while (events.length < 4) {
      const event = await stream.tryNext();
      if (event) events.push(event);
    }
    await stream.close();
    expect(events.map((event) => event.operationType)).toEqual(['create', 'insert', 'insert', 'rename']);
    expect((events[1] as { ns: { coll: string } }).ns.coll).toMatch(/^tmp\.agg_out\./);
    expect((events[3] as { to: object }).to).toEqual({ db: db.databaseName, coll: 'streamed' });
  });

  it('$merge inserts new documents and merges matched ones into the target (default whenMatched)', async () => {
    const target = db.collection('merged');
    await target.insertOne({ _id: 2, x: 0, kept: true } as never);
    await db
      .collection('source')
      .aggregate(outPipeline({ $merge: { into: 'merged' } }))
      .toArray();
    expect(await target.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 2, x: 22, kept: true },
      { _id: 3, x: 33 },
    ]);
    await db
      .collection('source')
      .aggregate([{ $merge: { into: 'merged', whenMatched: 'replace', whenNotMatched: 'discard' } }])
      .toArray();
    expect(await target.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 2, x: 22 },
      { _id: 3, x: 33 },
    ]);
    await db
      .collection('source')
      .aggregate([
        { $merge: { into: 'merged', whenMatched: [{ $set: { x: { $add: ['$x', '$$new.x'] } } }] } },
      ])
      .toArray();
    expect(await target.find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, x: 11 },
      { _id: 2, x: 44 },
      { _id: 3, x: 66 },
    ]);
  });

  it('$merge with whenMatched fail gives the DuplicateKey error of the insert (11000)', async () => {
    const error = await db
      .aggregate([{ $documents: [{ _id: 2, x: 1 }] }, { $merge: { into: 'source', whenMatched: 'fail' } }])
      .toArray()
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 11000, keyPattern: { _id: 1 }, keyValue: { _id: 2 } });
  });

  it("$merge needs a unique index on its 'on' fields, and refuses a write stage before the end", async () => {
    const source = db.collection('source');
    await expect(source.aggregate([{ $merge: { into: 'other', on: 'x' } }]).toArray()).rejects.toMatchObject({
      code: 51183,
    });
    await db.collection('other').createIndex({ x: 1 }, { unique: true });
    await source
      .aggregate([{ $project: { _id: 0, x: 1 } }, { $merge: { into: 'other', on: 'x' } }])
      .toArray();
    expect(await db.collection('other').countDocuments({ x: { $in: [11, 22, 33] } })).toBe(3);
    await expect(source.aggregate([{ $out: 'x' }, { $match: {} }]).toArray()).rejects.toMatchObject({
      code: 40601,
    });
  });

  it('$listLocalSessions lists the session of the command', async () => {
    const session = client().startSession();
    try {
      const listed = await db
        .aggregate([{ $listLocalSessions: {} }, { $project: { _id: 0, id: '$_id.id' } }], { session })
        .toArray();
      expect(listed).toEqual([{ id: session.id?.id }]);
    } finally {
      await session.endSession();
    }
  });
});
