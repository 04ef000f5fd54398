/**
 * Write concern checks and mongod's error-label rules. On a one-member replica set `w` above 1 is
 * UnsatisfiableWriteConcern (100) and an unknown tag UnknownReplWriteConcern (79), both reported
 * as a writeConcernError after the write or command took effect. Labels follow mongod's
 * ErrorLabelBuilder: TransientTransactionError inside transactions (on commit/abort only for
 * WriteConflict-like codes and NoSuchTransaction), RetryableWriteError for retryable codes of
 * retryable writes and commit/abort, none from a writeConcernError inside a transaction.
 */
import { Long, UUID, type Document } from 'bson';
import { MongoClient, type W } from 'mongodb';
import { startMongoStandin, type MongoStandin } from '..';
import { RawMongoClient } from './raw-client';

describe('MongoDB stand-in: write concern and error labels', () => {
  let mongo: MongoStandin;
  let client: MongoClient;
  let raw: RawMongoClient;

  beforeAll(async () => {
    mongo = await startMongoStandin();
    client = await new MongoClient(mongo.url, { serverSelectionTimeoutMS: 5_000 }).connect();
    raw = await RawMongoClient.connect(mongo.port);
  });

  afterEach(async () => {
    await client.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
  });

  afterAll(async () => {
    raw?.close();
    await client?.close();
    await mongo?.stop();
  });

  let counter = 0;
  const freshCollection = () => client.db('wc').collection(`c${++counter}`);

  describe('write concern', () => {
    it('applies a write with w: 10 and reports UnsatisfiableWriteConcern (100) as a writeConcernError', async () => {
      const coll = freshCollection();
      await expect(coll.insertOne({ _id: 1 } as Document, { writeConcern: { w: 10 } })).rejects.toMatchObject(
        {
          name: 'MongoWriteConcernError',
          code: 100,
          codeName: 'UnsatisfiableWriteConcern',
          message: 'Not enough data-bearing nodes',
        },
      );
      expect(await coll.countDocuments()).toBe(1);
    });

    it('reports an unknown tag as UnknownReplWriteConcern (79), for commands too', async () => {
      // NOTE: the driver types `w` as a number or 'majority'; a tag is any other string.
      const name = `c${++counter}`;
      await expect(
        client.db('wc').createCollection(name, { writeConcern: { w: 'dc-east' as W } }),
      ).rejects.toMatchObject({
        code: 79,
        codeName: 'UnknownReplWriteConcern',
        message: "No write concern mode named 'dc-east' found in replica set configuration",
      });
      expect(await client.db('wc').listCollections({ name }).toArray()).toHaveLength(1);
    });

    it('accepts w: 1, w: majority and w: 0', async () => {
      const coll = freshCollection();
      await coll.insertOne({ a: 1 }, { writeConcern: { w: 1 } });
      await coll.insertOne({ a: 2 }, { writeConcern: { w: 'majority' } });
      expect(await coll.countDocuments()).toBe(2);
    });

    it('commits with w: 10 and reports the writeConcernError without transaction labels (spec: commit.json)', async () => {
      const coll = freshCollection();
      const session = client.startSession();
      try {
        session.startTransaction({ writeConcern: { w: 10 } });
        await coll.insertOne({ _id: 1 } as Document, { session });
        const error = await session.commitTransaction().catch((failure: unknown) => failure);
        expect(error).toMatchObject({ code: 100 });
        const labels = (error as { errorLabels: string[] }).errorLabels;
        expect(labels).not.toContain('TransientTransactionError');
        expect(labels).not.toContain('UnknownTransactionCommitResult');
      } finally {
        await session.endSession();
      }
      expect(await coll.find().toArray()).toEqual([{ _id: 1 }]);
    });
  });

  describe('labels of injected errors (as the server sends them)', () => {
    const failOnce = (data: Document) =>
      client.db('admin').command({ configureFailPoint: 'failCommand', mode: { times: 1 }, data });

    /** Starts a transaction with one insert over the raw client; returns the commit command. */
    async function openTransaction(): Promise<Document> {
      const session = { lsid: { id: new UUID() }, txnNumber: Long.fromNumber(1), autocommit: false };
      const reply = await raw.command({
        insert: `c${++counter}`,
        documents: [{ x: 1 }],
        startTransaction: true,
        ...session,
        $db: 'wc',
      });
      expect(reply.ok).toBe(1);
      return { commitTransaction: 1, ...session, $db: 'admin' };
    }

    it.each([
      [251, 'NoSuchTransaction', ['TransientTransactionError']],
      [91, 'ShutdownInProgress', ['RetryableWriteError']],
      [112, 'WriteConflict', ['TransientTransactionError']],
      [11601, 'Interrupted', undefined],
      [50, 'MaxTimeMSExpired', undefined],
    ])('labels a commitTransaction failing with %d (%s) %j', async (code, codeName, labels) => {
      const commit = await openTransaction();
      await failOnce({ failCommands: ['commitTransaction'], errorCode: code });
      const reply = await raw.command(commit);
      expect(reply).toMatchObject({ ok: 0, code, codeName });
      expect(reply.errorLabels).toEqual(labels);
    });

    it('labels an insert inside a transaction TransientTransactionError for retryable codes, not RetryableWriteError', async () => {
      await failOnce({ failCommands: ['insert'], errorCode: 10107 });
      const session = { lsid: { id: new UUID() }, txnNumber: Long.fromNumber(1), autocommit: false };
      const reply = await raw.command({
        insert: 'x',
        documents: [{}],
        startTransaction: true,
        ...session,
        $db: 'wc',
      });
      expect(reply).toMatchObject({ code: 10107, errorLabels: ['TransientTransactionError'] });
    });

    it('gives no label for a writeConcernError inside a transaction; RetryableWriteError for one on commit', async () => {
      const session = { lsid: { id: new UUID() }, txnNumber: Long.fromNumber(1), autocommit: false };
      await failOnce({
        failCommands: ['insert'],
        writeConcernError: { code: 91, errmsg: 'Replication is being shut down' },
      });
      const insert = await raw.command({
        insert: 'y',
        documents: [{}],
        startTransaction: true,
        ...session,
        $db: 'wc',
      });
      expect(insert).toMatchObject({ ok: 1, writeConcernError: { code: 91 } });
      expect(insert.errorLabels).toBeUndefined();

      await failOnce({
        failCommands: ['commitTransaction'],
        writeConcernError: { code: 91, errmsg: 'Replication is being shut down' },
      });
      const reply = await raw.command({ commitTransaction: 1, ...session, $db: 'admin' });
      expect(reply).toMatchObject({
        ok: 1,
        writeConcernError: { code: 91 },
        errorLabels: ['RetryableWriteError'],
      });
    });
  });
});
