import type { Document, MongoClient } from 'mongodb';
import { uniqueName, useGround } from '../support/ground';
import { waitFor } from '../support/wait';
import {
  connectMongo,
  relayOptions,
  readCheckpoint,
  startRelay,
  TopicReader,
  type RelayApp,
} from './support';

const APP_NAME = 'relay-under-test';

describe('relay: faults and policies', () => {
  // A broker of this file's own: one test kills it.
  const ground = useGround({ mongo: true, kafka: { dedicated: true } });
  let mongo: MongoClient;
  let relay: RelayApp | undefined;
  let reader: TopicReader | undefined;

  const start = async (db: string, extra: Parameters<typeof relayOptions>[1] = {}) => {
    const base = relayOptions(ground(), { streams: [{ db, collection: 'orders' }], ...extra });
    // NOTE: with the stand-in, the driver's monitor check after a dropped connection can hang until
    // connectTimeoutMS; short timeouts keep the network-error test fast (the library is unaffected).
    const clientOptions = { appName: APP_NAME, connectTimeoutMS: 2_000, heartbeatFrequencyMS: 500 };
    relay = await startRelay({ ...base, mongo: { uri: ground().mongoUrl, clientOptions } });
    return relay;
  };
  const stream = () => relay!.status().streams[0];
  const failPoint = (mode: Document | 'off', data: Document) =>
    mongo
      .db('admin')
      .command({ configureFailPoint: 'failCommand', mode, data: { appName: APP_NAME, ...data } });
  const insert = (db: string, from: number, to: number) =>
    mongo
      .db(db)
      .collection('orders')
      .insertMany(Array.from({ length: to - from }, (_, i) => ({ _id: from + i, n: from + i }) as Document));
  const read = async (db: string, topics = [`cdc.${db}.orders`]) =>
    (reader = await new TopicReader(ground().kafkaBrokers, topics).start());
  const insertedIds = (r: TopicReader) =>
    new Set(
      r.messages
        .filter((m) => m.event.operationType === 'insert')
        .map((m) => Number(m.event.documentKey._id)),
    );
  const allOf = (r: TopicReader, from: number, to: number) => {
    const ids = insertedIds(r);
    for (let n = from; n < to; n++) if (!ids.has(n)) return false;
    return true;
  };

  beforeAll(async () => {
    mongo = await connectMongo(ground());
  });
  afterEach(async () => {
    await failPoint('off', { failCommands: [] });
    await relay?.close();
    await reader?.stop();
    relay = reader = undefined;
  });
  afterAll(async () => {
    await mongo?.close();
  });

  it('resumes after network errors without a gap', async () => {
    const db = uniqueName('net');
    await start(db);
    await waitFor(() => stream().epoch, { what: 'leader' });
    await insert(db, 0, 50);
    await read(db);
    await reader!.waitFor((m) => m.length >= 50, 'first 50');
    await failPoint({ times: 2 }, { failCommands: ['getMore'], closeConnection: true });
    ground().mongo?.closeAllConnections();
    await insert(db, 50, 100);
    // NOTE: failed once in CI under load (30 s without the last 50); says where the relay stood if it happens again.
    await reader!
      .waitFor(() => allOf(reader!, 0, 100), 'all 100 inserts')
      .catch((error: Error) => {
        throw new Error(`${error.message}; stream status: ${JSON.stringify(stream())}`);
      });
  });

  it('resumes after a resumable server error (primary stepped down)', async () => {
    const db = uniqueName('stepdown');
    await start(db);
    await waitFor(() => stream().epoch, { what: 'leader' });
    await insert(db, 0, 10);
    await waitFor(() => stream().eventsPublished >= 10, { what: 'first 10' });
    ground().mongo!.stepDown(300);
    await waitFor(async () => (await mongo.db('admin').command({ hello: 1 })).isWritablePrimary, {
      what: 'the primary back',
    });
    await insert(db, 10, 20);
    await read(db);
    await reader!.waitFor(() => allOf(reader!, 0, 20), 'all 20 inserts');
  });

  it('backs off and reopens on errors the driver does not resume', async () => {
    const db = uniqueName('nonresumable');
    await start(db);
    await waitFor(() => stream().epoch, { what: 'leader' });
    // 13 (Unauthorized) carries no ResumableChangeStreamError label: the driver gives up, the relay reopens.
    await failPoint({ times: 3 }, { failCommands: ['getMore', 'aggregate'], errorCode: 13 });
    await insert(db, 0, 20);
    await read(db);
    await reader!.waitFor(() => allOf(reader!, 0, 20), 'all 20 inserts');
    expect(stream().lastError?.message).toMatch(/Failing command|13|failCommand/i);
    expect(stream().role).toBe('leader');
  });

  it("history lost with onHistoryLost 'fail': stops, reports unhealthy, says what was lost and how to recover", async () => {
    const db = uniqueName('lost');
    await start(db);
    await waitFor(async () => (await readCheckpoint(mongo, `${db}.orders`))?.resumeToken, {
      what: 'a checkpoint',
    });
    await relay!.close();
    await insert(db, 0, 5);
    ground().mongo!.truncateOplog();
    await start(db);
    await waitFor(() => stream().role === 'stopped', { what: 'the stream to stop' });
    const status = relay!.status();
    expect(status.healthy).toBe(false);
    expect(stream().stoppedReason).toMatch(/ChangeStreamHistoryLost|286/);
    expect(stream().stoppedReason).toMatch(/never published/);
    expect(stream().stoppedReason).toMatch(/onHistoryLost: 'resnapshot'/);
    expect(stream().stoppedReason).toContain(`{ _id: "${db}.orders" }`);
  });

  it("history lost with onHistoryLost 'resnapshot': publishes every document as a snapshot, then streams on", async () => {
    const db = uniqueName('resnap');
    await start(db, { onHistoryLost: 'resnapshot' });
    await waitFor(async () => (await readCheckpoint(mongo, `${db}.orders`))?.resumeToken, {
      what: 'a checkpoint',
    });
    await relay!.close();
    await insert(db, 0, 30);
    ground().mongo!.truncateOplog();
    await start(db, { onHistoryLost: 'resnapshot' });
    await read(db);
    await reader!.waitFor(
      (m) => m.filter((x) => x.event.operationType === 'snapshot').length >= 30,
      '30 snapshot events',
    );
    await waitFor(async () => (await readCheckpoint(mongo, `${db}.orders`))?.snapshot === null, {
      what: 'the snapshot to finish',
    });
    await insert(db, 30, 31);
    await reader!.waitFor(() => allOf(reader!, 30, 31), 'the insert after the snapshot');

    const snapshots = reader!.messages.filter((m) => m.event.operationType === 'snapshot');
    expect(new Set(snapshots.map((m) => Number(m.event.documentKey._id))).size).toBe(30);
    expect(snapshots[0].eventId).toMatch(/^snapshot:\d+\.\d+:[0-9a-f]{32}$/);
    expect(snapshots[0].event.fullDocument).toMatchObject({ _id: expect.anything(), n: expect.anything() });
    expect(snapshots[0].key).toBe(
      `{"_id":${JSON.stringify({ $numberInt: String(snapshots[0].event.documentKey._id) })}}`,
    );
    expect(relay!.status().healthy).toBe(true);
  });

  it('invalidate: publishes drop and invalidate, then reopens with startAfter and keeps relaying', async () => {
    const db = uniqueName('inval');
    await start(db);
    await waitFor(() => stream().epoch, { what: 'leader' });
    await insert(db, 0, 3);
    await mongo.db(db).collection('orders').drop();
    await insert(db, 3, 6);
    await read(db);
    await reader!.waitFor(() => allOf(reader!, 0, 6), 'inserts before and after the drop');
    const ops = reader!.messages.map((m) => m.event.operationType);
    expect(ops.indexOf('drop')).toBeGreaterThan(-1);
    expect(ops.indexOf('invalidate')).toBeGreaterThan(ops.indexOf('drop'));
    expect(stream().role).toBe('leader');
  });

  it('Kafka down: the checkpoint does not move, in-flight events stay bounded, and it catches up after', async () => {
    const db = uniqueName('kdown');
    const kafka = ground().kafka!;
    await start(db, { relay: { ...relayOptions(ground()).relay, maxInFlightEvents: 50, batchSize: 10 } });
    await waitFor(() => stream().epoch, { what: 'leader' });
    await insert(db, 0, 5);
    await waitFor(
      async () => stream().eventsPublished >= 5 && (await readCheckpoint(mongo, `${db}.orders`))?.resumeToken,
      { what: 'first events checkpointed' },
    );

    await kafka.kill(1);
    try {
      await insert(db, 5, 300);
      await waitFor(() => stream().inFlightEvents === 50, { what: 'the in-flight bound to be reached' });
      const stuck = (await readCheckpoint(mongo, `${db}.orders`))?.resumeToken?._data;
      const failures = stream().publishFailures;
      await waitFor(() => stream().publishFailures >= failures + 2, {
        what: 'two more failed sends',
        timeoutMs: 30_000,
      });
      // Paused at the bound: the stream read no further and the checkpoint did not move.
      expect(stream().inFlightEvents).toBe(50);
      expect(stream().eventsPublished).toBeLessThan(300);
      expect((await readCheckpoint(mongo, `${db}.orders`))?.resumeToken?._data).toBe(stuck);
    } finally {
      await kafka.restart(1);
    }
    await read(db);
    await reader!.waitFor(() => allOf(reader!, 0, 300), 'all 300 inserts after Kafka came back', 60_000);
    await waitFor(() => stream().inFlightEvents === 0, { what: 'nothing in flight' });
  });

  it('a rejected stream (e.g. unknown pipeline stage) stops with a reason instead of retrying forever', async () => {
    const db = uniqueName('rejected');
    await failPoint({ times: 1 }, { failCommands: ['aggregate'], errorCode: 40324 });
    await start(db);
    await waitFor(() => stream().role === 'stopped', { what: 'the stream to stop' });
    expect(stream().stoppedReason).toMatch(/MongoDB rejected the change stream/);
    expect(relay!.status().healthy).toBe(false);
  });
});
