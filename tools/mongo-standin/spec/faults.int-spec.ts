/**
 * Fault injection as the driver experiences it: configureFailPoint (failCommand,
 * failGetMoreAfterCursorCheckout), automatic error labels, stepDown, closeAllConnections,
 * pause/resume.
 */
import {
  MongoClient,
  type CommandFailedEvent,
  type MongoServerError,
  type CommandStartedEvent,
  type Document,
} from 'mongodb';
import { startMongoStandin, type MongoStandin } from '..';
import { RawMongoClient } from './raw-client';

describe('MongoDB stand-in: faults', () => {
  let mongo: MongoStandin;
  let client: MongoClient;
  const started: CommandStartedEvent[] = [];
  const failed: CommandFailedEvent[] = [];

  beforeAll(async () => {
    mongo = await startMongoStandin();
    // NOTE: serverSelectionTimeoutMS 0 (no limit): the 6.20 driver's retry and resume paths select a
    // server with a timer of that length they never clear, which would hold the Jest worker open.
    client = new MongoClient(mongo.url, {
      monitorCommands: true,
      serverSelectionTimeoutMS: 0,
      appName: 'faults-spec',
    });
    client.on('commandStarted', (event) => started.push(event));
    client.on('commandFailed', (event) => failed.push(event));
    await client.connect();
  });

  afterAll(async () => {
    await client?.close();
    await mongo?.stop();
  });

  let counter = 0;
  const freshCollection = () => client.db('faults').collection(`c${++counter}`);
  const failPoint = (command: Document) => client.db('admin').command(command);
  const commandsNamed = (name: string) => started.filter((event) => event.commandName === name);
  /** The error reply of the first failed `name` command, as the server sent it (labels the driver adds are not in it). */
  const serverReply = (name: string) =>
    (failed.find((event) => event.commandName === name)?.failure as MongoServerError | undefined)
      ?.errorResponse;

  beforeEach(() => {
    started.length = 0;
    failed.length = 0;
  });

  afterEach(async () => {
    mongo.resume();
    await failPoint({ configureFailPoint: 'failCommand', mode: 'off' });
    await failPoint({ configureFailPoint: 'failGetMoreAfterCursorCheckout', mode: 'off' });
  });

  it('fails the named commands with errorCode for { times } activations, only for the given appName', async () => {
    const coll = freshCollection();
    await coll.insertOne({ x: 1 });
    await failPoint({
      configureFailPoint: 'failCommand',
      mode: { times: 2 },
      data: { failCommands: ['count', 'aggregate'], errorCode: 2, appName: 'faults-spec' },
    });
    const other = await new MongoClient(mongo.url, { appName: 'someone-else' }).connect();
    try {
      expect(await other.db('faults').collection(coll.collectionName).countDocuments()).toBe(1);
    } finally {
      await other.close();
    }
    await expect(coll.countDocuments()).rejects.toMatchObject({ code: 2 });
    await expect(coll.countDocuments()).rejects.toMatchObject({ code: 2 });
    expect(await coll.countDocuments()).toBe(1);
  });

  it('uses the errorLabels a fail point names instead of the automatic ones', async () => {
    await failPoint({
      configureFailPoint: 'failCommand',
      mode: { times: 1 },
      data: { failCommands: ['insert'], errorCode: 91, errorLabels: [] },
    });
    await expect(freshCollection().insertOne({ x: 1 })).rejects.toMatchObject({ code: 91 });
    expect(commandsNamed('insert')).toHaveLength(1);
  });

  it('labels a retryable error RetryableWriteError by itself, so the driver retries the write once', async () => {
    const coll = freshCollection();
    await failPoint({
      configureFailPoint: 'failCommand',
      mode: { times: 1 },
      data: { failCommands: ['insert'], errorCode: 91 },
    });
    await coll.insertOne({ x: 1 });
    expect(commandsNamed('insert')).toHaveLength(2);
    expect(serverReply('insert')).toMatchObject({ code: 91, errorLabels: ['RetryableWriteError'] });
    expect(await coll.countDocuments()).toBe(1);
  });

  it('closes the connection on closeConnection; the retried write is applied once', async () => {
    const coll = freshCollection();
    await failPoint({
      configureFailPoint: 'failCommand',
      mode: { times: 1 },
      data: { failCommands: ['insert'], closeConnection: true },
    });
    await coll.insertOne({ x: 1 });
    const inserts = commandsNamed('insert');
    expect(inserts).toHaveLength(2);
    expect(inserts[1].command.txnNumber).toEqual(inserts[0].command.txnNumber);
    expect(await coll.countDocuments()).toBe(1);
  });

  it('executes the write and then reports the writeConcernError a fail point names', async () => {
    const coll = freshCollection();
    await failPoint({
      configureFailPoint: 'failCommand',
      mode: { times: 1 },
      data: {
        failCommands: ['insert'],
        writeConcernError: {
          code: 100,
          codeName: 'UnsatisfiableWriteConcern',
          errmsg: 'Not enough data-bearing nodes',
        },
      },
    });
    await expect(coll.insertOne({ x: 1 })).rejects.toMatchObject({
      name: 'MongoWriteConcernError',
      code: 100,
    });
    expect(await coll.countDocuments()).toBe(1);
  });

  it('blocks only the connection of a blocked command, then runs the command', async () => {
    const coll = freshCollection();
    await coll.insertOne({ x: 1 });
    await failPoint({
      configureFailPoint: 'failCommand',
      mode: { times: 1 },
      data: { failCommands: ['find'], blockConnection: true, blockTimeMS: 1_000, appName: 'faults-spec' },
    });
    const order: string[] = [];
    const blocked = coll.findOne({}).then((doc) => {
      order.push('blocked find');
      return doc;
    });
    const raw = await RawMongoClient.connect(mongo.port);
    try {
      await raw.command({ find: coll.collectionName, filter: {}, $db: 'faults' });
      order.push('other find');
    } finally {
      raw.close();
    }
    expect(await blocked).toMatchObject({ x: 1 });
    expect(order).toEqual(['other find', 'blocked find']);
  });

  it('skips the first { skip } matches', async () => {
    const coll = freshCollection();
    await failPoint({
      configureFailPoint: 'failCommand',
      mode: { skip: 1 },
      data: { failCommands: ['find'], errorCode: 2 },
    });
    await coll.findOne({});
    await expect(coll.findOne({})).rejects.toMatchObject({ code: 2 });
  });

  it('steps down: hello reports a secondary, a write is retried once the node is primary again', async () => {
    const coll = freshCollection();
    const raw = await RawMongoClient.connect(mongo.port);
    try {
      mongo.stepDown(1_000);
      expect(await raw.command({ hello: 1, $db: 'admin' })).toMatchObject({
        isWritablePrimary: false,
        secondary: true,
      });
      await coll.insertOne({ x: 1 });
    } finally {
      raw.close();
    }
    expect(serverReply('insert')).toMatchObject({
      code: 10107,
      errorLabels: ['RetryableWriteError'],
    });
    expect(await coll.countDocuments()).toBe(1);
  });

  it('labels a failed change-stream getMore ResumableChangeStreamError, and the stream resumes', async () => {
    const coll = freshCollection();
    await coll.insertOne({ seed: 1 });
    const stream = coll.watch([], { maxAwaitTimeMS: 50 });
    try {
      await stream.tryNext();
      await failPoint({
        configureFailPoint: 'failGetMoreAfterCursorCheckout',
        mode: { times: 1 },
        data: { errorCode: 6 },
      });
      await coll.insertOne({ x: 1 });
      expect(await stream.next()).toMatchObject({ operationType: 'insert', fullDocument: { x: 1 } });
    } finally {
      await stream.close();
    }
    expect(serverReply('getMore')).toMatchObject({
      code: 6,
      errorLabels: ['ResumableChangeStreamError'],
    });
    expect(commandsNamed('aggregate')).toHaveLength(2);
  });

  it('does not label failCommand errors on getMore as resumable (the cursor is not checked out yet)', async () => {
    const coll = freshCollection();
    const stream = coll.watch([], { maxAwaitTimeMS: 50 });
    try {
      await stream.tryNext();
      await failPoint({
        configureFailPoint: 'failCommand',
        mode: { times: 1 },
        data: { failCommands: ['getMore'], errorCode: 6 },
      });
      await expect(stream.next()).rejects.toMatchObject({ code: 6 });
    } finally {
      await stream.close();
    }
  });

  it('drops every connection on closeAllConnections; clients reconnect', async () => {
    const coll = freshCollection();
    await coll.insertOne({ x: 1 });
    const raw = await RawMongoClient.connect(mongo.port);
    mongo.closeAllConnections();
    await raw.closed;
    await coll.insertOne({ x: 2 });
    expect(await coll.countDocuments()).toBe(2);
  });

  it('holds requests while paused, including on new connections, and answers them after resume', async () => {
    const probeServer = await startMongoStandin();
    const probe = await RawMongoClient.connect(probeServer.port);
    const before = await RawMongoClient.connect(mongo.port);
    let during: RawMongoClient | undefined;
    try {
      mongo.pause();
      during = await RawMongoClient.connect(mongo.port);
      const answered: string[] = [];
      const replies = [before, during].map((raw, i) =>
        raw.command({ ping: 1, $db: 'admin' }).then((reply) => {
          answered.push(`client${i}`);
          return reply;
        }),
      );
      // Round trips through another server on the same event loop: the paused one had every chance to answer.
      for (let i = 0; i < 5; i++) await probe.command({ ping: 1, $db: 'admin' });
      expect(answered).toEqual([]);
      mongo.resume();
      await expect(Promise.all(replies)).resolves.toEqual([
        expect.objectContaining({ ok: 1 }),
        expect.objectContaining({ ok: 1 }),
      ]);
    } finally {
      mongo.resume();
      before.close();
      during?.close();
      probe.close();
      await probeServer.stop();
    }
  });
});
