/**
 * Sessions and multi-document transactions through mongoose 8 and the `mongodb` driver: atomic
 * commit, invisible abort, unique violations inside a transaction, change events at commit.
 */
import { MongoClient } from 'mongodb';
import mongoose, { Schema, type Connection } from 'mongoose';
import { startMongoStandin, type MongoStandin } from '..';

interface Account {
  owner: string;
  balance: number;
}

describe('MongoDB stand-in: transactions', () => {
  let mongo: MongoStandin;
  let connection: Connection;
  let observer: MongoClient;

  beforeAll(async () => {
    mongo = await startMongoStandin();
    connection = await mongoose
      .createConnection(mongo.url, { dbName: 'bank', serverSelectionTimeoutMS: 5_000 })
      .asPromise();
    observer = await new MongoClient(mongo.url, { serverSelectionTimeoutMS: 5_000 }).connect();
  });

  afterAll(async () => {
    await connection?.close();
    await observer?.close();
    await mongo?.stop();
  });

  let modelCounter = 0;
  /** A fresh model (own collection) with a unique index on `owner`, its index built. */
  async function accountModel() {
    const schema = new Schema<Account>({
      owner: { type: String, unique: true, required: true },
      balance: Number,
    });
    const model = connection.model<Account>(`Account${++modelCounter}`, schema);
    await model.init();
    return model;
  }

  const observed = (model: { collection: { collectionName: string } }) =>
    observer.db('bank').collection(model.collection.collectionName);

  it('builds mongoose unique indexes and answers duplicates with 11000', async () => {
    const Account = await accountModel();
    await Account.create({ owner: 'ann', balance: 1 });
    await expect(Account.create({ owner: 'ann', balance: 2 })).rejects.toMatchObject({
      code: 11000,
      keyValue: { owner: 'ann' },
    });
    const indexes = await observed(Account).listIndexes().toArray();
    expect(indexes).toContainEqual(expect.objectContaining({ key: { owner: 1 }, unique: true }));
  });

  it('upserts with findOneAndUpdate', async () => {
    const Account = await accountModel();
    const created = await Account.findOneAndUpdate(
      { owner: 'bob' },
      { $inc: { balance: 5 } },
      { upsert: true, new: true },
    );
    expect(created).toMatchObject({ owner: 'bob', balance: 5 });
    const updated = await Account.findOneAndUpdate(
      { owner: 'bob' },
      { $inc: { balance: 5 } },
      { upsert: true, new: true },
    );
    expect(updated?.balance).toBe(10);
    expect(await Account.countDocuments()).toBe(1);
  });

  it('commits a mongoose withTransaction atomically: invisible to others until commit', async () => {
    const Account = await accountModel();
    await Account.create([
      { owner: 'a', balance: 100 },
      { owner: 'b', balance: 0 },
    ]);
    const session = await connection.startSession();
    const seenFromOutside: number[] = [];
    try {
      await session.withTransaction(async () => {
        await Account.updateOne({ owner: 'a' }, { $inc: { balance: -40 } }, { session });
        await Account.updateOne({ owner: 'b' }, { $inc: { balance: 40 } }, { session });
        await Account.create([{ owner: 'c', balance: 1 }], { session });
        expect(await Account.countDocuments({}, { session })).toBe(3);
        const outside = await observed(Account).find({}).toArray();
        seenFromOutside.push(...outside.map((doc) => doc.balance));
      });
    } finally {
      await session.endSession();
    }
    expect(seenFromOutside).toEqual([100, 0]);
    const after = await observed(Account)
      .find({}, { projection: { _id: 0, owner: 1, balance: 1 } })
      .toArray();
    expect(after).toEqual([
      { owner: 'a', balance: 60 },
      { owner: 'b', balance: 40 },
      { owner: 'c', balance: 1 },
    ]);
  });

  it('leaves nothing behind when the transaction callback throws', async () => {
    const Account = await accountModel();
    await Account.create({ owner: 'a', balance: 100 });
    const session = await connection.startSession();
    try {
      await expect(
        session.withTransaction(async () => {
          await Account.updateOne({ owner: 'a' }, { $set: { balance: 0 } }, { session });
          await Account.create([{ owner: 'z', balance: 1 }], { session });
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
    } finally {
      await session.endSession();
    }
    expect(
      await observed(Account)
        .find({}, { projection: { _id: 0, owner: 1, balance: 1 } })
        .toArray(),
    ).toEqual([{ owner: 'a', balance: 100 }]);
  });

  it('fails a transaction on a unique violation and applies none of its writes', async () => {
    const Account = await accountModel();
    await Account.create({ owner: 'taken', balance: 0 });
    const session = await connection.startSession();
    try {
      await expect(
        session.withTransaction(async () => {
          await Account.create([{ owner: 'fresh', balance: 1 }], { session });
          await Account.create([{ owner: 'taken', balance: 1 }], { session });
        }),
      ).rejects.toMatchObject({ code: 11000 });
    } finally {
      await session.endSession();
    }
    expect(await observed(Account).countDocuments()).toBe(1);
  });

  it('retries a commit that failed with a retryable error (labelled by the server) and commits once', async () => {
    const counters = observer.db('bank').collection('counters');
    await counters.insertOne({ _id: 'c' as never, n: 0 });
    await observer.db('admin').command({
      configureFailPoint: 'failCommand',
      mode: { times: 1 },
      data: { failCommands: ['commitTransaction'], errorCode: 91 },
    });
    const session = observer.startSession();
    try {
      await session.withTransaction(async () => {
        await counters.updateOne({ _id: 'c' as never }, { $inc: { n: 1 } }, { session });
      });
    } finally {
      await session.endSession();
      await observer.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
    }
    expect(await counters.findOne({})).toEqual({ _id: 'c', n: 1 });
  });

  it("runs the driver's withTransaction and records the events at commit with lsid and txnNumber", async () => {
    const ledger = observer.db('bank').collection('ledger');
    await ledger.insertOne({ seed: true });
    const stream = ledger.watch([{ $match: { operationType: 'insert' } }], { maxAwaitTimeMS: 50 });
    try {
      await stream.tryNext(); // opens the stream before the transaction
      const session = observer.startSession();
      try {
        await session.withTransaction(async () => {
          await ledger.insertOne({ n: 1 }, { session });
          await ledger.insertOne({ n: 2 }, { session });
        });
      } finally {
        await session.endSession();
      }
      const inTransaction = { lsid: expect.anything(), txnNumber: expect.anything() };
      expect(await stream.next()).toMatchObject({ fullDocument: { n: 1 }, ...inTransaction });
      expect(await stream.next()).toMatchObject({ fullDocument: { n: 2 }, ...inTransaction });
    } finally {
      await stream.close();
    }
  });
});
