/**
 * Collations through the real driver, as mongod 7.0 applies them (references: the driver CRUD spec
 * files *-collation.json): strength 2 ignores case, strength 1 also accents, in equality, `$in`,
 * ranges, sort, distinct and `$group` of find / count / distinct / aggregate / update / delete /
 * findAndModify / bulkWrite. Invalid collations get mongod's errors; valid ones the stand-in cannot
 * evaluate are refused, never ignored.
 */
import { type Collection, type Db, type Document } from 'mongodb';
import { useStandin } from './use-standin';

const caseInsensitive = { locale: 'en_US', strength: 2 };
const accentInsensitive = { locale: 'fr', strength: 1 };

describe('MongoDB stand-in: collation', () => {
  const standin = useStandin('collation');
  let db: Db;
  let coll: Collection<Document>;

  beforeEach(async () => {
    db = standin.freshDb();
    coll = db.collection('words');
    await coll.insertMany([
      { _id: 1, x: 11 },
      { _id: 2, x: 'ping' },
      { _id: 3, x: 'pINg' },
      { _id: 4, x: 'pong' },
      { _id: 5, x: 'pONg' },
      { _id: 6, x: 'péng' },
    ] as never[]);
  });

  const ids = (docs: Document[]) => docs.map((doc) => doc._id);

  it('matches equality, $in, $ne and ranges case-insensitively at strength 2 (find, count, aggregate)', async () => {
    expect(ids(await coll.find({ x: 'PING' }, { collation: caseInsensitive }).toArray())).toEqual([2, 3]);
    expect(await coll.find({ x: 'PING' }).toArray()).toEqual([]);
    expect(await coll.countDocuments({ x: { $in: ['PONG'] } }, { collation: caseInsensitive })).toBe(2);
    expect(await coll.countDocuments({ x: { $ne: 'PING' } }, { collation: caseInsensitive })).toBe(4);
    const above = await coll.find({ x: { $gt: 'PING' } }, { collation: caseInsensitive }).toArray();
    expect(ids(above)).toEqual([4, 5]);
    const matched = await coll
      .aggregate([{ $match: { x: 'PING' } }, { $project: { _id: 1 } }], { collation: caseInsensitive })
      .toArray();
    expect(matched).toEqual([{ _id: 2 }, { _id: 3 }]);
    const byExpr = await coll
      .find({ $expr: { $eq: ['$x', 'PONG'] } }, { collation: caseInsensitive })
      .toArray();
    expect(ids(byExpr)).toEqual([4, 5]);
  });

  it('ignores accents too at strength 1, and not at strength 2', async () => {
    expect(ids(await coll.find({ x: 'PENG' }, { collation: accentInsensitive }).toArray())).toEqual([6]);
    expect(await coll.find({ x: 'PENG' }, { collation: caseInsensitive }).toArray()).toEqual([]);
  });

  it('sorts by the collation and takes the first of equal values for distinct and $group', async () => {
    const sorted = await coll
      .find({ x: { $type: 'string' } }, { collation: { locale: 'en_US' } })
      .sort({ x: 1 })
      .toArray();
    expect(sorted.map((doc) => doc.x)).toEqual(['péng', 'ping', 'pINg', 'pong', 'pONg']);
    expect(
      await coll.distinct('x', { _id: { $in: [2, 3] } } as never, { collation: caseInsensitive }),
    ).toEqual(['ping']);
    const groups = await coll
      .aggregate([{ $match: { _id: { $gt: 1 } } }, { $group: { _id: '$x', n: { $sum: 1 } } }], {
        collation: caseInsensitive,
      })
      .toArray();
    // mongod's group order is unspecified; each key is the first value seen of its group.
    expect(groups).toHaveLength(3);
    expect(groups).toEqual(
      expect.arrayContaining([
        { _id: 'ping', n: 2 },
        { _id: 'pong', n: 2 },
        { _id: 'péng', n: 1 },
      ]),
    );
  });

  it('applies a statement collation to updates, deletes and bulkWrite (bulkWrite-collation.json)', async () => {
    const deleted = await coll.bulkWrite([
      { deleteOne: { filter: { x: 'PING' }, collation: caseInsensitive } },
      { deleteOne: { filter: { x: 'PING' }, collation: caseInsensitive } },
      { deleteMany: { filter: { x: 'PONG' }, collation: caseInsensitive } },
    ]);
    expect(deleted.deletedCount).toBe(4);
    await coll.insertMany([
      { _id: 7, x: 'ping' },
      { _id: 8, x: 'PING' },
    ] as never[]);
    const updated = await coll.updateMany(
      { x: 'Ping' },
      { $set: { seen: true } },
      { collation: caseInsensitive },
    );
    expect([updated.matchedCount, updated.modifiedCount]).toEqual([2, 2]);
    const replaced = await coll.replaceOne({ x: 'PÉNG' }, { x: 'peng' }, { collation: caseInsensitive });
    expect(replaced.matchedCount).toBe(1);
    expect((await coll.deleteOne({ x: 'PING' }, { collation: caseInsensitive })).deletedCount).toBe(1);
    expect(await coll.countDocuments()).toBe(3);
  });

  it('finds and modifies under a collation (findOneAndUpdate-collation.json)', async () => {
    const before = await coll.findOneAndUpdate(
      { x: 'PING' },
      { $set: { x: 'pong' } },
      { collation: caseInsensitive, sort: { _id: 1 }, projection: { _id: 0, x: 1 } },
    );
    expect(before).toEqual({ x: 'ping' });
    const deleted = await coll.findOneAndDelete({ x: 'PING' }, { collation: caseInsensitive });
    expect(deleted).toEqual({ _id: 3, x: 'pINg' });
  });

  it('applies the collation of a change stream to its pipeline', async () => {
    const stream = coll.watch([{ $match: { 'fullDocument.x': 'PING' } }], { collation: caseInsensitive });
    await stream.tryNext();
    await coll.insertMany([
      { _id: 10, x: 'pong' },
      { _id: 11, x: 'Ping' },
    ] as never[]);
    const event = await stream.next();
    await stream.close();
    expect(event).toMatchObject({ operationType: 'insert', documentKey: { _id: 11 } });
  });

  it("answers an invalid collation with mongod's errors", async () => {
    const find = (collation: Document) => coll.find({}, { collation } as never).toArray();
    await expect(find({ strength: 2 })).rejects.toMatchObject({ code: 40414 });
    await expect(find({ locale: 'en_US', strength: 9 })).rejects.toMatchObject({ code: 51024 });
    await expect(find({ locale: 'en_US', colour: 'blue' })).rejects.toMatchObject({
      code: 40415,
      message: "BSON field 'collation.colour' is an unknown field.",
    });
    await expect(find({ locale: 'xx_YY' })).rejects.toMatchObject({ code: 2 });
    await expect(find({ locale: 'en_us' })).rejects.toMatchObject({
      code: 2,
      message: `Field 'locale' is invalid in: { locale: "en_us" }. Did you mean 'en_US'?`,
    });
    await expect(find({ locale: 'simple', strength: 2 })).rejects.toMatchObject({ code: 9 });
    await expect(find({ locale: 'en_US', strength: 1, caseFirst: 'upper' })).rejects.toMatchObject({
      code: 2,
    });
    expect(await find({ locale: 'simple' })).toHaveLength(6);
  });

  it('refuses a valid collation it cannot evaluate as mongod does, instead of ignoring it', async () => {
    const refused = { code: 238, message: expect.stringContaining('MongoDB stand-in does not support') };
    await expect(coll.find({}, { collation: { locale: 'en', strength: 4 } }).toArray()).rejects.toMatchObject(
      refused,
    );
    await expect(
      coll
        .aggregate([{ $group: { _id: null, xs: { $addToSet: '$x' } } }], { collation: caseInsensitive })
        .toArray(),
    ).rejects.toMatchObject(refused);
    await expect(
      coll.updateOne({ x: 'PING' }, { $pull: { tags: 'A' } } as never, { collation: caseInsensitive }),
    ).rejects.toMatchObject(refused);
    await expect(db.createCollection('ci', { collation: caseInsensitive })).rejects.toMatchObject(refused);
    await expect(
      coll.createIndex({ x: 1 }, { unique: true, collation: caseInsensitive }),
    ).rejects.toMatchObject(refused);
    await coll.createIndex({ x: 1 }, { collation: caseInsensitive });
  });
});
