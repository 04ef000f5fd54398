/**
 * The stand-in keeps BSON types as mongod does (issue 15, item 11): a stored value goes back out
 * with the type it came in with, through insert, find, update and change events. mongod stores
 * BSON as sent: an int64 stays int64 whatever its value, a double 1.0 stays a double, -0 stays -0,
 * regex options are kept verbatim (including `x` and `l`, which JavaScript lacks).
 *
 * Reads use the driver's type-preserving options (promoteValues: false, bsonRegExp: true), so
 * the client shows exactly what the server sent.
 */
import { Double, Int32, Long, ObjectId, serialize, type Document } from 'bson';
import type { ChangeStreamDocument } from 'mongodb';
import { everyBsonType } from '../../../test/support/bson-types';
import { useStandin } from './use-standin';

const EXACT = { promoteValues: false, promoteLongs: false, bsonRegExp: true } as const;

/** Same BSON bytes: same types (tags), same values, same field order. */
const sameBson = (a: Document | null | undefined, b: Document) =>
  Buffer.from(serialize(a ?? {})).toString('hex') === Buffer.from(serialize(b)).toString('hex');

describe('MongoDB stand-in: BSON types are kept as sent (as mongod)', () => {
  const standin = useStandin('types');

  it('insert then find returns every type unchanged', async () => {
    const docs = standin.freshDb().collection<Document>('docs');
    const doc = everyBsonType();
    await docs.insertOne(doc);
    expect(sameBson(await docs.findOne({ _id: doc._id }, EXACT), doc)).toBe(true);
    // A filtered find (through the query engine) returns the stored types too.
    const [found] = await docs.find({ int32: 7 }, EXACT).toArray();
    expect(sameBson(found, doc)).toBe(true);
  });

  it('a Long stays a Long through $set and $inc, and a query by value still finds it', async () => {
    const docs = standin.freshDb().collection<Document>('docs');
    const _id = new ObjectId();
    await docs.insertOne({ _id, a: Long.fromNumber(5), b: new Int32(1), c: new Double(2), d: new Int32(1) });
    // mongod: int32 + int64 = int64; int64 + int32 = int64; double + int32 = double; int32 + int32 = int32.
    await docs.updateOne({ _id }, { $inc: { a: new Int32(1), b: Long.fromNumber(1), c: new Int32(1) } });
    await docs.updateOne({ _id }, { $inc: { d: new Int32(1) }, $set: { e: Long.fromNumber(3) } });
    const found = await docs.findOne({ a: 6 }, EXACT);
    expect(found).not.toBeNull();
    expect(found!.a).toEqual(Long.fromNumber(6));
    expect(found!.b).toEqual(Long.fromNumber(2));
    expect(found!.c).toEqual(new Double(3));
    expect(found!.d).toEqual(new Int32(2));
    expect(found!.e).toEqual(Long.fromNumber(3));
  });

  it('int32 overflow under $inc becomes a Long, as mongod', async () => {
    const docs = standin.freshDb().collection<Document>('docs');
    const _id = new ObjectId();
    await docs.insertOne({ _id, n: new Int32(2_147_483_647) });
    await docs.updateOne({ _id }, { $inc: { n: new Int32(1) } });
    expect((await docs.findOne({ _id }, EXACT))!.n).toEqual(Long.fromNumber(2_147_483_648));
  });

  it('change events carry the stored types (fullDocument, updateDescription)', async () => {
    const docs = standin.freshDb().collection<Document>('docs');
    const stream = docs.watch<Document, ChangeStreamDocument>([], { ...EXACT, fullDocument: 'updateLookup' });
    await stream.tryNext();
    const doc = everyBsonType();
    await docs.insertOne(doc);
    await docs.updateOne({ _id: doc._id }, { $set: { longSmall: Long.fromNumber(43), w: new Double(4) } });
    const insert = (await stream.next()) as Document;
    const update = (await stream.next()) as Document;
    await stream.close();
    expect(sameBson(insert.fullDocument, doc)).toBe(true);
    expect(
      sameBson(update.updateDescription.updatedFields, { longSmall: Long.fromNumber(43), w: new Double(4) }),
    ).toBe(true);
    expect(update.fullDocument.longSmall).toEqual(Long.fromNumber(43));
  });
});
