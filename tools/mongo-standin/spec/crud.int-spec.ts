/**
 * The stand-in as the real `mongodb` driver sees it: CRUD, cursors, update operators, indexes,
 * catalog commands and mongod's errors.
 */
import {
  Decimal128,
  Long,
  MongoClient,
  MongoServerError,
  ObjectId,
  type CommandStartedEvent,
  type Db,
} from 'mongodb';
import { startMongoStandin, type MongoStandin } from '..';

interface Scores {
  n: number;
  list: number[];
  grades: Array<{ g: number; top?: boolean }>;
  nested: { a?: number; b?: number };
}

describe('MongoDB stand-in: CRUD and catalog', () => {
  let mongo: MongoStandin;
  let client: MongoClient;
  let db: Db;
  const started: CommandStartedEvent[] = [];

  beforeAll(async () => {
    mongo = await startMongoStandin();
    client = new MongoClient(mongo.url, { monitorCommands: true, serverSelectionTimeoutMS: 5_000 });
    client.on('commandStarted', (event) => started.push(event));
    await client.connect();
  });

  afterAll(async () => {
    await client?.close();
    await mongo?.stop();
  });

  let dbCounter = 0;
  beforeEach(() => {
    db = client.db(`crud${++dbCounter}`);
    started.length = 0;
  });

  it('inserts, finds with filter/projection/sort/skip/limit, counts and deletes', async () => {
    const items = db.collection('items');
    await items.insertMany([
      { name: 'c', qty: 3, tags: ['x'] },
      { name: 'a', qty: 1, tags: ['x', 'y'] },
      { name: 'b', qty: 2 },
    ]);
    const found = await items
      .find({ qty: { $gte: 1 } }, { projection: { _id: 0, name: 1 } })
      .sort({ name: -1 })
      .skip(1)
      .limit(2)
      .toArray();
    expect(found).toEqual([{ name: 'b' }, { name: 'a' }]);
    expect(await items.countDocuments({ tags: 'x' })).toBe(2);
    expect(await items.estimatedDocumentCount()).toBe(3);
    expect((await items.distinct('tags')).sort()).toEqual(['x', 'y']);
    expect((await items.deleteMany({ qty: { $lt: 3 } })).deletedCount).toBe(2);
    expect((await items.deleteOne({})).deletedCount).toBe(1);
    expect(await items.findOne({})).toBeNull();
  });

  it('returns results in batches across getMores and kills an abandoned cursor', async () => {
    const items = db.collection('batches');
    await items.insertMany(Array.from({ length: 25 }, (_, i) => ({ i })));
    const all = await items.find({}, { batchSize: 10 }).sort({ i: 1 }).toArray();
    expect(all.map((doc) => doc.i)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(started.filter((event) => event.commandName === 'getMore')).toHaveLength(2);

    const cursor = items.find({}, { batchSize: 5 });
    await cursor.next();
    await cursor.close();
    expect(started.some((event) => event.commandName === 'killCursors')).toBe(true);
  });

  it('aggregates with $match, $group, $sort, $project, $count and $lookup', async () => {
    const orders = db.collection('orders');
    await orders.insertMany([
      { customer: 'x', total: 5 },
      { customer: 'y', total: 7 },
      { customer: 'x', total: 10 },
    ]);
    await db.collection('customers').insertOne({ _id: 'x' as never, name: 'Xavier' });
    const totals = await orders
      .aggregate([
        { $match: { total: { $gt: 1 } } },
        { $group: { _id: '$customer', sum: { $sum: '$total' } } },
        { $sort: { sum: -1 } },
        { $lookup: { from: 'customers', localField: '_id', foreignField: '_id', as: 'who' } },
        { $project: { sum: 1, names: '$who.name' } },
      ])
      .toArray();
    expect(totals).toEqual([
      { _id: 'x', sum: 15, names: ['Xavier'] },
      { _id: 'y', sum: 7, names: [] },
    ]);
    expect(await orders.aggregate([{ $count: 'n' }]).toArray()).toEqual([{ n: 3 }]);
  });

  it('applies update operators, arrayFilters and $setOnInsert only when inserting', async () => {
    const docs = db.collection<Scores>('scores');
    const { insertedId } = await docs.insertOne({
      n: 1,
      list: [1, 2, 3],
      grades: [{ g: 80 }, { g: 95 }],
      nested: { a: 1 },
    });
    await docs.updateOne(
      { _id: insertedId },
      {
        $inc: { n: 2 },
        $push: { list: { $each: [4, 5], $slice: -4 } },
        $set: { 'grades.$[high].top': true, 'nested.b': 2 },
        $unset: { 'nested.a': '' },
        $setOnInsert: { created: true },
      },
      { arrayFilters: [{ 'high.g': { $gte: 90 } }] },
    );
    expect(await docs.findOne({ _id: insertedId }, { projection: { _id: 0 } })).toEqual({
      n: 3,
      list: [2, 3, 4, 5],
      grades: [{ g: 80 }, { g: 95, top: true }],
      nested: { b: 2 },
    });

    const upserts = db.collection('upserts');
    const upsert = await upserts.updateOne(
      { key: 'k1', tier: { $eq: 'gold' } },
      { $set: { seen: 1 }, $setOnInsert: { created: true } },
      { upsert: true },
    );
    expect(upsert.upsertedCount).toBe(1);
    expect(await upserts.findOne({ key: 'k1' }, { projection: { _id: 0 } })).toEqual({
      key: 'k1',
      tier: 'gold',
      seen: 1,
      created: true,
    });
    const again = await upserts.updateOne(
      { key: 'k1' },
      { $set: { seen: 2 }, $setOnInsert: { created: false } },
      { upsert: true },
    );
    expect([again.matchedCount, again.modifiedCount, again.upsertedCount]).toEqual([1, 1, 0]);
    expect(await upserts.findOne({ key: 'k1' }, { projection: { _id: 0, seen: 1, created: 1 } })).toEqual({
      seen: 2,
      created: true,
    });
  });

  it('replaces documents, keeps _id immutable and runs pipeline updates', async () => {
    const docs = db.collection('replace');
    const { insertedId } = await docs.insertOne({ a: 1, b: 2 });
    await docs.replaceOne({ _id: insertedId }, { c: 3 });
    expect(await docs.findOne({ _id: insertedId })).toEqual({ _id: insertedId, c: 3 });
    await expect(
      docs.updateOne({ _id: insertedId }, { $set: { _id: new ObjectId() } }),
    ).rejects.toMatchObject({ code: 66 });
    await docs.updateOne({ _id: insertedId }, [{ $set: { d: { $add: ['$c', 1] } } }]);
    expect(await docs.findOne({ _id: insertedId }, { projection: { _id: 0 } })).toEqual({ c: 3, d: 4 });
  });

  it('does arithmetic on Long and Decimal128 and refuses $inc on a string with TypeMismatch', async () => {
    const docs = db.collection('numbers');
    const big = Long.fromString('9007199254740993');
    const { insertedId } = await docs.insertOne({ big, dec: Decimal128.fromString('1.10'), s: 'text' });
    await docs.updateOne({ _id: insertedId }, { $inc: { big: 2, dec: Decimal128.fromString('0.25') } });
    const doc = await docs.findOne({ _id: insertedId }, { promoteLongs: false });
    expect(doc?.big.toString()).toBe('9007199254740995');
    expect(doc?.dec.toString()).toBe('1.35');
    await expect(docs.updateOne({ _id: insertedId }, { $inc: { s: 1 } })).rejects.toMatchObject({ code: 14 });
  });

  it('finds and modifies with new, upsert, sort, fields and remove', async () => {
    const jobs = db.collection('jobs');
    await jobs.insertMany([
      { name: 'a', priority: 1 },
      { name: 'b', priority: 5 },
    ]);
    const claimed = await jobs.findOneAndUpdate(
      {},
      { $set: { claimed: true } },
      { sort: { priority: -1 }, returnDocument: 'after', projection: { _id: 0, name: 1, claimed: 1 } },
    );
    expect(claimed).toEqual({ name: 'b', claimed: true });
    const upserted = await jobs.findOneAndUpdate(
      { name: 'c' },
      { $set: { priority: 0 } },
      { upsert: true, returnDocument: 'after' },
    );
    expect(upserted).toMatchObject({ name: 'c', priority: 0 });
    const removed = await jobs.findOneAndDelete({ name: 'a' });
    expect(removed).toMatchObject({ name: 'a' });
    expect(await jobs.countDocuments()).toBe(2);
  });

  it('enforces unique indexes (also compound) with E11000, keyPattern and keyValue', async () => {
    const users = db.collection('users');
    await users.createIndex({ email: 1 }, { unique: true });
    await users.createIndex({ tenant: 1, login: 1 }, { unique: true, name: 'tenant_login' });
    await users.insertOne({ email: 'a@x.io', tenant: 't', login: 'a' });

    const insertError = await users.insertOne({ email: 'a@x.io' }).catch((error) => error);
    expect(insertError).toBeInstanceOf(MongoServerError);
    expect(insertError).toMatchObject({
      code: 11000,
      keyPattern: { email: 1 },
      keyValue: { email: 'a@x.io' },
    });
    expect(insertError.message).toBe(
      `E11000 duplicate key error collection: ${db.databaseName}.users index: email_1 dup key: { email: "a@x.io" }`,
    );

    await users.insertOne({ email: 'b@x.io', tenant: 't', login: 'b' });
    await expect(users.updateOne({ email: 'b@x.io' }, { $set: { login: 'a' } })).rejects.toMatchObject({
      code: 11000,
      keyPattern: { tenant: 1, login: 1 },
      keyValue: { tenant: 't', login: 'a' },
    });
    await expect(
      users.findOneAndUpdate({ email: 'b@x.io' }, { $set: { email: 'a@x.io' } }),
    ).rejects.toMatchObject({
      code: 11000,
      keyValue: { email: 'a@x.io' },
    });
    const bulk = await users
      .insertMany(
        [
          { email: 'c@x.io', login: 'c' },
          { email: 'a@x.io', login: 'x' },
          { email: 'd@x.io', login: 'd' },
        ],
        { ordered: false },
      )
      .catch((error) => error);
    expect(
      bulk.writeErrors.map((error: { index: number; code: number }) => [error.index, error.code]),
    ).toEqual([[1, 11000]]);
    expect(await users.countDocuments()).toBe(4);
    expect((await users.listIndexes().toArray()).map((index) => index.name)).toEqual([
      '_id_',
      'email_1',
      'tenant_login',
    ]);
    await users.dropIndex('email_1');
    await users.insertOne({ email: 'a@x.io' });
  });

  it('refuses to build a unique index over duplicate data', async () => {
    const dupes = db.collection('dupes');
    await dupes.insertMany([{ k: 1 }, { k: 1 }]);
    await expect(dupes.createIndex({ k: 1 }, { unique: true })).rejects.toMatchObject({ code: 11000 });
    expect((await dupes.listIndexes().toArray()).map((index) => index.name)).toEqual(['_id_']);
  });

  it('creates, lists, renames and drops collections and databases', async () => {
    await db.createCollection('audit', { changeStreamPreAndPostImages: { enabled: true } });
    await db.collection('other').insertOne({ x: 1 });
    const listed = await db.listCollections({ name: 'audit' }).toArray();
    expect(listed).toEqual([
      expect.objectContaining({
        name: 'audit',
        type: 'collection',
        options: { changeStreamPreAndPostImages: { enabled: true } },
        info: expect.objectContaining({ uuid: expect.anything() }),
      }),
    ]);
    await db.collection('other').rename('renamed');
    expect((await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort()).toEqual([
      'audit',
      'renamed',
    ]);
    expect(await db.collection('renamed').countDocuments()).toBe(1);
    expect(await db.collection('audit').drop()).toBe(true);
    const databases = await client.db().admin().listDatabases();
    expect(databases.databases.map((entry) => entry.name)).toContain(db.databaseName);
    await db.dropDatabase();
    expect(await db.listCollections().toArray()).toEqual([]);
  });

  it('reads a view through its pipeline and refuses writes to it', async () => {
    await db.collection('people').insertMany([
      { name: 'ann', age: 30 },
      { name: 'bob', age: 12 },
    ]);
    await db.createCollection('adults', { viewOn: 'people', pipeline: [{ $match: { age: { $gte: 18 } } }] });
    expect(
      await db
        .collection('adults')
        .find({}, { projection: { _id: 0, name: 1 } })
        .toArray(),
    ).toEqual([{ name: 'ann' }]);
    expect(await db.listCollections({ name: 'adults' }).toArray()).toEqual([
      expect.objectContaining({ type: 'view' }),
    ]);
    await expect(db.collection('adults').insertOne({ name: 'cid' })).rejects.toMatchObject({ code: 166 });
  });

  it('answers an unknown command with CommandNotFound (59)', async () => {
    const error = await db.command({ frobnicate: 1 }).catch((caught) => caught);
    expect(error).toMatchObject({ code: 59, codeName: 'CommandNotFound' });
    expect(error.message).toBe("no such command: 'frobnicate'");
  });

  it('names an unknown aggregation stage (40324) and refuses a later $changeStream', async () => {
    const coll = db.collection('stages');
    await expect(coll.aggregate([{ $match: {} }, { $frobnicate: {} }]).toArray()).rejects.toMatchObject({
      code: 40324,
      message: "Unrecognized pipeline stage name: '$frobnicate'",
    });
    await expect(coll.aggregate([{ $match: {} }, { $changeStream: {} }]).toArray()).rejects.toMatchObject({
      code: 40602,
    });
  });
});
