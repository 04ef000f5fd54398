/**
 * Change streams of the MongoDB stand-in through the real `mongodb` driver: automatic resume after
 * dropped sockets, history lost after oplog truncation, invalidate and startAfter, pre- and
 * post-images, an idle stream's advancing postBatchResumeToken, and a 10k-insert run.
 */
import {
  MongoClient,
  MongoServerError,
  type ChangeStreamDocument,
  type ChangeStreamOptions,
  type Collection,
  type Document,
  type MongoClientOptions,
  type ResumeToken,
} from 'mongodb';
import { waitFor } from '../../../test/support/wait';
import { startMongoStandin, type MongoStandin } from '..';

type Doc = { _id: number; [key: string]: unknown };
type InsertEvent = ChangeStreamDocument<Doc> & { documentKey: { _id: number } };

/**
 * A connected client.
 * NOTE: serverSelectionTimeoutMS 0 (no limit): after a dropped socket, the 6.20 driver's retryable
 * write retry and change-stream resume each select a server with a 30 s timer they never clear,
 * which would keep the Jest worker alive after the tests.
 */
const connect = (url: string, options: MongoClientOptions = {}) =>
  new MongoClient(url, { serverSelectionTimeoutMS: 0, ...options }).connect();

describe('MongoDB stand-in change streams (real driver)', () => {
  let mongo: MongoStandin;
  let client: MongoClient;
  let collectionCount = 0;
  /** A fresh collection per test. */
  const freshCollection = () => client.db('streams').collection<Doc>(`c${++collectionCount}`);
  /** watch() is lazy (the aggregate goes out on the first iteration): opens the stream before any write. */
  const openStream = async (collection: Collection<Doc>, options: ChangeStreamOptions = {}) => {
    const stream = collection.watch([], { maxAwaitTimeMS: 100, ...options });
    expect(await stream.tryNext()).toBeNull();
    return stream;
  };

  beforeAll(async () => {
    // A short no-op interval so an idle stream's high-water mark moves within the test.
    mongo = await startMongoStandin({ noopIntervalMs: 200 });
    client = await connect(mongo.url);
  });

  afterAll(async () => {
    await client?.close();
    await mongo?.stop();
  });

  it('resumes automatically after dropped sockets and delivers every event exactly once', async () => {
    const aggregates: Document[] = [];
    const consumer = await connect(mongo.url, { monitorCommands: true });
    consumer.on(
      'commandStarted',
      (event) => event.commandName === 'aggregate' && aggregates.push(event.command),
    );
    const stream = consumer.db('streams').collection<Doc>('resume').watch();
    try {
      const received: number[] = [];
      const consuming = (async () => {
        while (received.length < 300) received.push(((await stream.next()) as InsertEvent).documentKey._id);
      })();
      await waitFor(() => aggregates.length === 1, { what: 'the change stream to open' });
      const writer = client.db('streams').collection<Doc>('resume');
      for (let id = 1; id <= 300; id++) {
        await writer.insertOne({ _id: id });
        if (id % 60 === 0) mongo.closeAllConnections();
      }
      await consuming;
      expect(received).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
      expect(aggregates.length).toBeGreaterThan(1);
      expect(aggregates.slice(1).every((command) => command.pipeline[0].$changeStream.resumeAfter)).toBe(
        true,
      );
    } finally {
      await stream.close();
      await consumer.close();
    }
  });

  it('surfaces ChangeStreamHistoryLost (286) when resuming from a token older than a truncated oplog', async () => {
    const collection = freshCollection();
    const first = await openStream(collection);
    await collection.insertOne({ _id: 1 });
    const event = await first.next();
    await first.close();
    await collection.insertOne({ _id: 2 });
    mongo.truncateOplog();

    const resumed = collection.watch([], { resumeAfter: event._id, maxAwaitTimeMS: 100 });
    const error = await resumed.next().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    await resumed.close();
    expect(error).toBeInstanceOf(MongoServerError);
    expect(error).toMatchObject({ code: 286, codeName: 'ChangeStreamHistoryLost' });
    expect((error as MongoServerError).hasErrorLabel('ResumableChangeStreamError')).toBe(false);
  });

  it('invalidates a collection stream on drop and reopens after the invalidate with startAfter', async () => {
    const collection = freshCollection();
    const stream = await openStream(collection);
    await collection.insertOne({ _id: 1 });
    await collection.drop();
    const events = [await stream.next(), await stream.next(), await stream.next()];
    expect(events.map((e) => e.operationType)).toEqual(['insert', 'drop', 'invalidate']);
    await waitFor(() => stream.closed, { what: 'the invalidated stream to close' });

    const invalidate = events[2]._id as ResumeToken;
    await collection.insertOne({ _id: 2 });
    const reopened = collection.watch([], { startAfter: invalidate, maxAwaitTimeMS: 100 });
    try {
      const next = await reopened.next();
      expect(next).toMatchObject({ operationType: 'insert', documentKey: { _id: 2 } });
    } finally {
      await reopened.close();
    }

    const wrong = collection.watch([], { resumeAfter: invalidate });
    await expect(wrong.next()).rejects.toMatchObject({ code: 260, codeName: 'InvalidResumeToken' });
    await wrong.close();
  });

  it('delivers pre- and post-images when the collection has them enabled', async () => {
    const name = `images${++collectionCount}`;
    const db = client.db('streams');
    await db.createCollection(name);
    await db.command({ collMod: name, changeStreamPreAndPostImages: { enabled: true } });
    const collection: Collection<Doc> = db.collection<Doc>(name);
    const stream = await openStream(collection, {
      fullDocument: 'required',
      fullDocumentBeforeChange: 'required',
    });
    try {
      await collection.insertOne({ _id: 1, v: 1 });
      await collection.updateOne({ _id: 1 }, { $set: { v: 2 } });
      await collection.replaceOne({ _id: 1 }, { v: 3 });
      await collection.deleteOne({ _id: 1 });
      const [insert, update, replace, remove] = [
        await stream.next(),
        await stream.next(),
        await stream.next(),
        await stream.next(),
      ];
      expect(insert).toMatchObject({ operationType: 'insert', fullDocument: { _id: 1, v: 1 } });
      expect(update).toMatchObject({
        operationType: 'update',
        updateDescription: { updatedFields: { v: 2 }, removedFields: [] },
        fullDocument: { _id: 1, v: 2 },
        fullDocumentBeforeChange: { _id: 1, v: 1 },
      });
      expect(replace).toMatchObject({
        operationType: 'replace',
        fullDocument: { _id: 1, v: 3 },
        fullDocumentBeforeChange: { _id: 1, v: 2 },
      });
      expect(remove).toMatchObject({ operationType: 'delete', fullDocumentBeforeChange: { _id: 1, v: 3 } });
    } finally {
      await stream.close();
    }

    const plain = freshCollection();
    await plain.insertOne({ _id: 1 });
    const whenAvailable = await openStream(plain, { fullDocumentBeforeChange: 'whenAvailable' });
    try {
      await plain.updateOne({ _id: 1 }, { $set: { v: 1 } });
      expect(await whenAvailable.next()).toMatchObject({
        operationType: 'update',
        fullDocumentBeforeChange: null,
      });
    } finally {
      await whenAvailable.close();
    }
  });

  it("advances an idle stream's postBatchResumeToken", async () => {
    const stream = await openStream(freshCollection(), { maxAwaitTimeMS: 50 });
    try {
      const first = stream.resumeToken as { _data: string };
      expect(first._data).toMatch(/^82/);
      await waitFor(
        async () => {
          await stream.tryNext();
          return (stream.resumeToken as { _data: string })._data > first._data;
        },
        { what: 'the postBatchResumeToken of an idle stream to advance' },
      );
    } finally {
      await stream.close();
    }
  });

  it('streams 10k inserts to a watcher (prints the rate)', async () => {
    const collection = freshCollection();
    const stream = await openStream(collection);
    try {
      const total = 10_000;
      const started = Date.now();
      const writing = (async () => {
        for (let from = 0; from < total; from += 500) {
          await collection.insertMany(
            Array.from({ length: 500 }, (_, i) => ({ _id: from + i, n: from + i })),
          );
        }
      })();
      let expected = 0;
      while (expected < total) {
        const event = (await stream.next()) as InsertEvent;
        expect(event.documentKey._id).toBe(expected++);
      }
      await writing;
      const seconds = (Date.now() - started) / 1000;
      console.log(
        `change streams: ${total} inserts watched in ${seconds.toFixed(2)} s (${Math.round(total / seconds)} events/s)`,
      );
    } finally {
      await stream.close();
    }
  });
});
