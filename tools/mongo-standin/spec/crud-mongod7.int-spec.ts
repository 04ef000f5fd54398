/**
 * CRUD details as mongod 7.0 answers them, through the real driver (references: the driver CRUD
 * spec files updateWithPipelines.json, *-sort.json, insertOne-dots_and_dollars.json, *-let.json):
 * pipeline updates keep `_id`, a 7.0 update statement has no `sort`, `_id` holds no `$`-prefixed
 * field, and `let` variables reach `$expr`, pipelines and pipeline updates.
 */
import { MongoServerError, type Db } from 'mongodb';
import { useStandin } from './use-standin';

describe('MongoDB stand-in: CRUD as mongod 7.0', () => {
  const standin = useStandin('crud7_');
  let db: Db;

  beforeEach(() => {
    db = standin.freshDb();
  });

  it('keeps the _id when a pipeline update replaces the root with a document without one', async () => {
    // mongod: the result of an update pipeline gets the original _id back when it has none.
    const docs = db.collection('pipeline');
    await docs.insertMany([
      { _id: 1, x: 1, t: { u: { v: 1 } } },
      { _id: 2, x: 2 },
    ] as never[]);
    const result = await docs.updateOne({ _id: 1 } as never, [
      { $replaceRoot: { newRoot: '$t' } },
      { $addFields: { foo: 1 } },
    ]);
    expect([result.matchedCount, result.modifiedCount]).toEqual([1, 1]);
    expect(await docs.findOne({ _id: 1 } as never)).toEqual({ _id: 1, u: { v: 1 }, foo: 1 });
    await docs.updateMany({}, [{ $project: { _id: 0, x: 1 } }]);
    expect(await docs.find().toArray()).toEqual([{ _id: 1 }, { _id: 2, x: 2 }]);
  });

  it('refuses sort in an update statement as an unknown field (40415; sort is 8.0+)', async () => {
    // mongod 7.0 parses update statements strictly: `sort` only exists from 8.0 on.
    const docs = db.collection('sorted');
    await docs.insertMany([{ x: 1 }, { x: 2 }]);
    const error = await docs
      .updateOne({}, { $inc: { x: 1 } }, { sort: { x: -1 } } as never)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(MongoServerError);
    expect(error).toMatchObject({
      code: 40415,
      message: "BSON field 'update.updates.sort' is an unknown field.",
    });
    await expect(
      docs.bulkWrite([{ replaceOne: { filter: {}, replacement: { y: 1 }, sort: { x: 1 } } as never }]),
    ).rejects.toMatchObject({ code: 40415 });
    expect(await docs.countDocuments({ y: 1 })).toBe(0);
  });

  it('refuses a $-prefixed field inside _id and accepts one elsewhere (5.0+)', async () => {
    // mongod 5.0+ stores $-prefixed and dotted field names, except `$` names inside `_id` (52).
    const docs = db.collection('dollars');
    await expect(docs.insertOne({ _id: { $a: 1 } } as never)).rejects.toMatchObject({ code: 52 });
    await docs.insertOne({ _id: { 'a.b': 1 } } as never);
    await docs.insertOne({ _id: 2, $a: 1, b: { $c: 1 }, 'd.e': 1 } as never);
    expect(await docs.countDocuments()).toBe(2);
    await expect(
      docs.replaceOne({ _id: 3 } as never, { _id: { $x: 1 } }, { upsert: true }),
    ).rejects.toMatchObject({ code: 52 });
  });

  it('evaluates let variables once and exposes them as $$name to find, aggregate and writes', async () => {
    // mongod 5.0+: `let` constants (and expressions, evaluated once) are $$variables of the command.
    const docs = db.collection('let');
    await docs.insertMany([
      { _id: 1, name: 'a' },
      { _id: 2, name: 'a' },
      { _id: 3, name: 'b' },
    ] as never[]);
    const byId = { $expr: { $eq: ['$_id', '$$id'] } };
    expect(await docs.find(byId, { let: { id: 1 } }).toArray()).toEqual([{ _id: 1, name: 'a' }]);
    const projected = await docs
      .aggregate([{ $match: byId }, { $project: { _id: 0, x: '$$x', y: '$$y', rand: '$$rand' } }], {
        let: { id: 1, x: 'foo', y: { $literal: '$bar' }, rand: { $rand: {} } },
      })
      .toArray();
    expect(projected).toEqual([{ x: 'foo', y: '$bar', rand: expect.any(Number) }]);

    const updated = await docs.updateMany(
      { $expr: { $eq: ['$name', '$$name'] } },
      [{ $set: { x: '$$x', y: '$$y' } }],
      { let: { name: 'a', x: 'foo', y: { $literal: 'bar' } } },
    );
    expect([updated.matchedCount, updated.modifiedCount]).toEqual([2, 2]);
    expect(await docs.findOne({ _id: 2 } as never)).toEqual({ _id: 2, name: 'a', x: 'foo', y: 'bar' });
    const replaced = await docs.findOneAndReplace(byId, { name: 'z' }, { let: { id: 3 } });
    expect(replaced).toEqual({ _id: 3, name: 'b' });
    expect((await docs.deleteMany(byId, { let: { id: 3 } })).deletedCount).toBe(1);
    await docs.bulkWrite([{ deleteOne: { filter: byId } }], { let: { id: 1 } });
    expect(await docs.countDocuments()).toBe(1);
  });

  it('refuses an undefined $$variable (17276) and a let name mongod does not allow', async () => {
    const docs = db.collection('letErrors');
    await docs.insertOne({ _id: 1 } as never);
    await expect(docs.find({ $expr: { $eq: ['$_id', '$$nope'] } }).toArray()).rejects.toMatchObject({
      code: 17276,
      message: 'Use of undefined variable: nope',
    });
    await expect(docs.find({}, { let: { Upper: 1 } }).toArray()).rejects.toMatchObject({ code: 16867 });
  });
});
