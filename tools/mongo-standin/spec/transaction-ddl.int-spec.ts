/**
 * What a transaction may run, as mongod 7.0 decides: createCollection and createIndexes on a new
 * collection are part of the transaction (visible only inside it until commit, gone on abort);
 * createIndexes on an existing or non-empty collection, count and commands outside mongod's
 * transaction allowlist are refused with OperationNotSupportedInTransaction (263), and a
 * writeConcern on a statement inside a transaction with InvalidOptions (72).
 */
import { Long, UUID } from 'bson';
import { MongoServerError, type ClientSession, type Document } from 'mongodb';
import { RawMongoClient } from './raw-client';
import { useStandin } from './use-standin';

/** Test documents: a number `_id` and any fields. */
interface Doc extends Document {
  _id: number;
}

describe('MongoDB stand-in: DDL and commands in a transaction', () => {
  const standin = useStandin('transaction_ddl');
  const client = () => standin.client();
  const sessions: ClientSession[] = [];

  afterEach(async () => {
    for (const session of sessions.splice(0)) await session.endSession();
  });

  const db = () => client().db('ddl');
  const coll = (name: string) => db().collection<Doc>(name);
  let counter = 0;
  const freshName = () => `c${++counter}`;
  const transaction = () => {
    const session = client().startSession();
    sessions.push(session);
    session.startTransaction();
    return session;
  };
  const exists = async (name: string) => (await db().listCollections({ name }).toArray()).length === 1;
  const indexNames = async (name: string) =>
    (await db().collection(name).indexes()).map((index) => index.name);
  const labelsOf = (error: unknown) => (error instanceof MongoServerError ? error.errorLabels : []);

  it('creates a collection explicitly: visible to the transaction only until commit', async () => {
    const name = freshName();
    const txn = transaction();
    await db().createCollection(name, { session: txn });
    await coll(name).insertOne({ _id: 1 }, { session: txn });
    expect(await exists(name)).toBe(false);
    expect(await coll(name).find({}, { session: txn }).toArray()).toEqual([{ _id: 1 }]);
    await txn.commitTransaction();
    expect(await exists(name)).toBe(true);
    expect(await coll(name).find().toArray()).toEqual([{ _id: 1 }]);
  });

  it('creates a collection implicitly by an insert, and removes it on abort', async () => {
    const name = freshName();
    const txn = transaction();
    await coll(name).insertOne({ _id: 1 }, { session: txn });
    expect(await exists(name)).toBe(false);
    await txn.abortTransaction();
    expect(await exists(name)).toBe(false);
    expect(await coll(name).countDocuments()).toBe(0);
  });

  it('creates an index on a non-existing collection, and on one created in the same transaction', async () => {
    const implicit = freshName();
    const explicit = freshName();
    const txn = transaction();
    await coll(implicit).createIndex({ x: 1 }, { name: 't_1', session: txn });
    await db().createCollection(explicit, { session: txn });
    await coll(explicit).createIndex({ y: 1 }, { name: 'u_1', unique: true, session: txn });
    expect(await exists(implicit)).toBe(false);
    await coll(explicit).insertOne({ _id: 1, y: 1 }, { session: txn });
    await expect(coll(explicit).insertOne({ _id: 2, y: 1 }, { session: txn })).rejects.toMatchObject({
      code: 11000,
    });
    await txn.abortTransaction();

    const again = transaction();
    await coll(implicit).createIndex({ x: 1 }, { name: 't_1', session: again });
    await again.commitTransaction();
    expect(await indexNames(implicit)).toEqual(['_id_', 't_1']);
  });

  it('refuses createIndexes on an existing or a non-empty collection (263)', async () => {
    const existing = freshName();
    await coll(existing).insertOne({ _id: 1 });
    const txn = transaction();
    const refused = await db()
      .collection(existing)
      .createIndex({ x: 1 }, { session: txn })
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({
      code: 263,
      message: `Cannot create new indexes on existing collection ddl.${existing} in a multi-document transaction.`,
    });
    await txn.abortTransaction().catch(() => undefined);

    const fresh = freshName();
    const second = transaction();
    await coll(fresh).insertOne({ _id: 1 }, { session: second });
    await expect(coll(fresh).createIndex({ x: 1 }, { session: second })).rejects.toMatchObject({
      code: 263,
      message: `Cannot create new indexes on non-empty collection ddl.${fresh} in a multi-document transaction.`,
    });
  });

  it('makes a write outside the transaction to the new namespace wait for the commit', async () => {
    const name = freshName();
    const txn = transaction();
    await coll(name).insertOne({ _id: 1, by: 'txn' }, { session: txn });
    const outside = coll(name).insertOne({ _id: 2, by: 'outside' });
    await standin.expectBlocked(outside);
    await txn.commitTransaction();
    await outside;
    expect(await coll(name).find().toArray()).toEqual([
      { _id: 1, by: 'txn' },
      { _id: 2, by: 'outside' },
    ]);
  });

  it('refuses count (spec: count) without a transient label, and the transaction goes on', async () => {
    const name = freshName();
    await coll(name).insertOne({ _id: 1 });
    const txn = transaction();
    await coll(name).insertOne({ _id: 2 }, { session: txn });
    const refused = await coll(name)
      .count({ _id: 1 }, { session: txn })
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({
      code: 263,
      codeName: 'OperationNotSupportedInTransaction',
      message:
        "Cannot run 'count' in a multi-document transaction. Please see http://dochub.mongodb.org/core/transaction-count for a recommended alternative.",
    });
    expect(labelsOf(refused)).toEqual([]);
    await txn.commitTransaction();
    expect(await coll(name).countDocuments()).toBe(2);
  });

  it('refuses a command outside the transaction allowlist (listCollections)', async () => {
    const txn = transaction();
    await coll(freshName()).insertOne({ _id: 1 }, { session: txn });
    await expect(db().listCollections({}, { session: txn }).toArray()).rejects.toMatchObject({
      code: 263,
      message: "Cannot run 'listCollections' in a multi-document transaction.",
    });
    await txn.abortTransaction();
  });

  it('refuses writeConcern on a statement inside a transaction (72), but takes it on commit', async () => {
    // mongod: "writeConcern is not allowed within a multi-statement transaction" for every command of
    // it but commitTransaction and abortTransaction. The driver never sends one there, so a raw client does.
    const raw = await RawMongoClient.connect(standin.mongo().port);
    try {
      const session = { lsid: { id: new UUID() }, txnNumber: Long.fromNumber(1), autocommit: false };
      const name = freshName();
      const first = { insert: name, documents: [{ _id: 1 }], startTransaction: true, ...session, $db: 'ddl' };
      expect(await raw.command({ ...first, writeConcern: { w: 1 } })).toMatchObject({
        ok: 0,
        code: 72,
        errmsg: 'writeConcern is not allowed within a multi-statement transaction',
      });
      expect(await raw.command(first)).toMatchObject({ ok: 1, n: 1 });
      const commit = { commitTransaction: 1, ...session, writeConcern: { w: 1 }, $db: 'admin' };
      expect(await raw.command(commit)).toMatchObject({ ok: 1 });
      expect(await coll(name).countDocuments()).toBe(1);
    } finally {
      raw.close();
    }
  });
});
