/**
 * Transaction isolation as mongod 7.0 has it, through the real driver: a write conflict fails the
 * conflicting write at once (WriteConflict, TransientTransactionError) and the transaction is gone;
 * a write outside a transaction waits for the open transaction that wrote the same document (or
 * unique key) to end, up to its maxTimeMS; a transaction reads one snapshot, taken at its first
 * read or write, across all collections.
 */
import { MongoServerError, type ClientSession, type Document, type ReadConcernLevel } from 'mongodb';
import { useStandin } from './use-standin';

/** Test documents: a number or string `_id` and any fields. */
interface Doc extends Document {
  _id: number | string;
}

describe('MongoDB stand-in: transaction isolation', () => {
  const standin = useStandin('transaction_isolation');
  const client = () => standin.client();
  const sessions: ClientSession[] = [];

  afterEach(async () => {
    for (const session of sessions.splice(0)) await session.endSession();
  });

  let counter = 0;
  const freshCollection = () => client().db('isolation').collection<Doc>(`c${++counter}`);
  const session = () => {
    const started = client().startSession();
    sessions.push(started);
    return started;
  };
  const labelsOf = (error: unknown) => (error instanceof MongoServerError ? error.errorLabels : []);

  describe('write conflicts', () => {
    it('fails the second transaction at its conflicting insert, then its commit with NoSuchTransaction (spec: write conflict commit)', async () => {
      const coll = freshCollection();
      await coll.insertOne({ _id: 'seed' });
      const first = session();
      const second = session();
      first.startTransaction();
      await coll.insertOne({ _id: 1 }, { session: first });
      second.startTransaction();
      const conflict = await coll.insertOne({ _id: 1 }, { session: second }).catch((error: unknown) => error);
      expect(conflict).toMatchObject({ code: 112, codeName: 'WriteConflict' });
      expect(labelsOf(conflict)).toEqual(['TransientTransactionError']);
      await first.commitTransaction();
      const commit = await second.commitTransaction().catch((error: unknown) => error);
      expect(commit).toMatchObject({ code: 251, codeName: 'NoSuchTransaction' });
      expect(labelsOf(commit)).toContain('TransientTransactionError');
      expect(labelsOf(commit)).not.toContain('UnknownTransactionCommitResult');
      expect(await coll.find({ _id: 1 }).toArray()).toEqual([{ _id: 1 }]);
    });

    it('fails a transaction writing a document another transaction changed after its snapshot', async () => {
      const coll = freshCollection();
      await coll.insertOne({ _id: 1, n: 0 });
      const late = session();
      late.startTransaction();
      expect(await coll.findOne({ _id: 1 }, { session: late })).toEqual({ _id: 1, n: 0 });
      await coll.updateOne({ _id: 1 }, { $set: { n: 5 } });
      await expect(coll.updateOne({ _id: 1 }, { $inc: { n: 1 } }, { session: late })).rejects.toMatchObject({
        code: 112,
      });
      await late.abortTransaction();
      expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, n: 5 });
    });

    it('fails two transactions taking the same unique key at the second insert', async () => {
      const coll = freshCollection();
      await coll.createIndex({ email: 1 }, { unique: true });
      const first = session();
      const second = session();
      first.startTransaction();
      second.startTransaction();
      await coll.insertOne({ _id: 1, email: 'a' }, { session: first });
      await expect(coll.insertOne({ _id: 2, email: 'a' }, { session: second })).rejects.toMatchObject({
        code: 112,
      });
      await second.abortTransaction();
      await first.commitTransaction();
      expect(await coll.find().toArray()).toEqual([{ _id: 1, email: 'a' }]);
    });
  });

  describe('a write outside a transaction', () => {
    it('waits for the open transaction that wrote the document to commit, then applies on top of it', async () => {
      const coll = freshCollection();
      await coll.insertOne({ _id: 1, n: 0 });
      const txn = session();
      txn.startTransaction();
      await coll.updateOne({ _id: 1 }, { $inc: { n: 1 } }, { session: txn });
      const outside = coll.updateOne({ _id: 1 }, { $inc: { n: 10 } });
      await standin.expectBlocked(outside);
      await txn.commitTransaction();
      await outside;
      expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, n: 11 });
    });

    it('applies once the transaction aborts, and waits for an insert of the same _id', async () => {
      const coll = freshCollection();
      await coll.insertOne({ _id: 1, n: 0 });
      const txn = session();
      txn.startTransaction();
      await coll.deleteOne({ _id: 1 }, { session: txn });
      await coll.insertOne({ _id: 2, by: 'txn' }, { session: txn });
      const update = coll.updateOne({ _id: 1 }, { $set: { n: 7 } });
      const insert = coll.insertOne({ _id: 2, by: 'outside' });
      await standin.expectBlocked(update, insert);
      await txn.abortTransaction();
      await Promise.all([update, insert]);
      expect(await coll.find().toArray()).toEqual([
        { _id: 1, n: 7 },
        { _id: 2, by: 'outside' },
      ]);
    });

    it('gets a DuplicateKey once the transaction that inserted the same _id commits', async () => {
      const coll = freshCollection();
      const txn = session();
      txn.startTransaction();
      await coll.insertOne({ _id: 1, by: 'txn' }, { session: txn });
      const outside = coll.insertOne({ _id: 1, by: 'outside' });
      await standin.expectBlocked(outside);
      await txn.commitTransaction();
      await expect(outside).rejects.toMatchObject({ code: 11000 });
    });

    it('fails with MaxTimeMSExpired (50) when the transaction outlasts its maxTimeMS; the transaction commits', async () => {
      const coll = freshCollection();
      await coll.insertOne({ _id: 1, n: 0 });
      const txn = session();
      txn.startTransaction();
      await coll.updateOne({ _id: 1 }, { $set: { n: 1 } }, { session: txn });
      await expect(
        coll.findOneAndUpdate({ _id: 1 }, { $set: { n: 2 } }, { maxTimeMS: 100 }),
      ).rejects.toMatchObject({ code: 50, codeName: 'MaxTimeMSExpired' });
      await txn.commitTransaction();
      expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, n: 1 });
    });

    it('waits for a transaction a vanished client left open until transactionLifetimeLimitSeconds aborts it', async () => {
      const coll = freshCollection();
      await coll.insertOne({ _id: 1, n: 0 });
      const admin = client().db('admin');
      expect(await admin.command({ setParameter: 1, transactionLifetimeLimitSeconds: 1 })).toMatchObject({
        was: 60,
      });
      try {
        const abandoned = client().startSession(); // never committed nor ended, as by a killed client
        abandoned.startTransaction();
        await coll.updateOne({ _id: 1 }, { $set: { n: 1 } }, { session: abandoned });
        const started = Date.now();
        await coll.updateOne({ _id: 1 }, { $inc: { n: 10 } });
        expect(Date.now() - started).toBeGreaterThan(500);
        expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, n: 10 });
        await expect(abandoned.commitTransaction()).rejects.toMatchObject({ code: 251 });
        await abandoned.endSession();
      } finally {
        await admin.command({ setParameter: 1, transactionLifetimeLimitSeconds: 60 });
      }
      expect(await admin.command({ getParameter: 1, transactionLifetimeLimitSeconds: 1 })).toMatchObject({
        transactionLifetimeLimitSeconds: 60,
      });
    });

    it('does not wait for a transaction that only read the document', async () => {
      const coll = freshCollection();
      await coll.insertOne({ _id: 1, n: 0 });
      const txn = session();
      txn.startTransaction();
      await coll.findOne({ _id: 1 }, { session: txn });
      await coll.updateOne({ _id: 1 }, { $set: { n: 3 } });
      expect(await coll.findOne({ _id: 1 }, { session: txn })).toEqual({ _id: 1, n: 0 });
      await txn.commitTransaction();
    });
  });

  describe('one snapshot per transaction', () => {
    it.each<ReadConcernLevel>(['snapshot', 'majority', 'local'])(
      'does not see a commit to a second collection after its first read (readConcern %s)',
      async (level) => {
        const first = freshCollection();
        const second = freshCollection();
        await first.insertOne({ _id: 1 });
        await second.insertOne({ _id: 1 });
        const txn = session();
        txn.startTransaction({ readConcern: { level } });
        expect(await first.find({}, { session: txn }).toArray()).toEqual([{ _id: 1 }]);
        await second.insertOne({ _id: 2 });
        await second.updateOne({ _id: 1 }, { $set: { changed: true } });
        expect(await second.find({}, { session: txn }).toArray()).toEqual([{ _id: 1 }]);
        await txn.commitTransaction();
      },
    );

    it('takes the snapshot at the first write too', async () => {
      const first = freshCollection();
      const second = freshCollection();
      await second.insertOne({ _id: 1 });
      const txn = session();
      txn.startTransaction();
      await first.insertOne({ _id: 1 }, { session: txn });
      await second.deleteOne({ _id: 1 });
      expect(await second.countDocuments({}, { session: txn })).toBe(1);
      await txn.commitTransaction();
    });
  });
});
