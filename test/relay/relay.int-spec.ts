import { Binary, Decimal128, Long, ObjectId, Timestamp } from 'bson';
import type { MongoClient } from 'mongodb';
import { CHANGE_EVENT_HEADERS as H } from 'nest-change-stream';
import { uniqueName, useGround } from '../support/ground';
import { ChangeStreamConnections } from '../../libs/change-stream/src/connections/change-stream-connections';
import { TEST_KAFKA_SETTINGS } from '../support/kafka-clients';
import { waitFor } from '../support/wait';
import {
  connectMongo,
  relayOptions,
  readCheckpoint,
  startRelay,
  TopicReader,
  type RelayApp,
} from './support';

describe('relay: relaying a change stream to Kafka', () => {
  const ground = useGround({ mongo: true, kafka: true });
  let mongo: MongoClient;
  let relay: RelayApp | undefined;
  let reader: TopicReader | undefined;

  beforeAll(async () => {
    mongo = await connectMongo(ground());
  });
  afterEach(async () => {
    await relay?.close();
    await reader?.stop();
    relay = reader = undefined;
  });
  afterAll(async () => {
    await mongo?.close();
  });

  it.each([
    ['on its producer thread (the default)', true],
    ['in the main thread (kafka.producerThread: false)', false],
  ])(
    'publishes every change in order, keyed by documentKey, with BSON types and headers intact: producer %s',
    async (_, producerThread) => {
      const db = uniqueName('shop');
      relay = await startRelay(
        relayOptions(ground(), {
          kafka: { brokers: ground().kafkaBrokers, ...TEST_KAFKA_SETTINGS, producerThread },
          streams: [{ db, collection: 'orders', fullDocument: 'updateLookup' }],
        }),
      );
      await waitFor(() => relay!.status().streams[0]?.role === 'leader' && relay!.status().streams[0].epoch, {
        what: 'a leader',
      });
      expect(relay.app.get(ChangeStreamConnections, { strict: false }).producerThread !== null).toBe(
        producerThread,
      );
      const orders = mongo.db(db).collection('orders');
      const _id = new ObjectId();
      const doc = {
        _id,
        total: Decimal128.fromString('12.34'),
        count: Long.fromString('9007199254740993'),
        at: new Date(1_700_000_000_000),
        raw: new Binary(Buffer.from('hi')),
        ts: new Timestamp({ t: 5, i: 6 }),
      };
      await orders.insertOne(doc);
      await orders.updateOne({ _id }, { $set: { status: 'paid' } });
      // NOTE: updateLookup reads the document when the event is read; delete it only after that.
      await waitFor(() => relay!.status().streams[0].eventsRead >= 2, { what: 'the update to be read' });
      await orders.deleteOne({ _id });

      reader = await new TopicReader(ground().kafkaBrokers, [`cdc.${db}.orders`]).start();
      await reader.waitFor((m) => m.length >= 3, 'three events');
      const [insert, update, remove] = reader.messages;
      expect([insert, update, remove].map((m) => m.event.operationType)).toEqual([
        'insert',
        'update',
        'delete',
      ]);
      expect(new Set(reader.messages.map((m) => m.partition)).size).toBe(1);
      expect(insert.event.fullDocument).toEqual(doc);
      expect(insert.event.fullDocument.count).toBeInstanceOf(Long);
      expect(insert.event.fullDocument.total).toBeInstanceOf(Decimal128);
      expect(update.event.fullDocument.status).toBe('paid');
      expect(insert.key).toBe(`{"_id":{"$oid":"${_id.toHexString()}"}}`);
      expect(insert.headers).toMatchObject({
        [H.eventId]: insert.event._id._data,
        [H.operationType]: 'insert',
        [H.namespace]: `${db}.orders`,
        [H.epoch]: String(relay.status().streams[0].epoch),
      });
      expect(insert.headers[H.clusterTime]).toMatch(/^\d+\.\d+$/);

      // The checkpoint reaches the last event (or a later idle token) once Kafka acknowledged it.
      await waitFor(
        async () => (await readCheckpoint(mongo, `${db}.orders`))?.resumeToken?._data >= remove.eventId,
        { what: 'checkpoint at the delete' },
      );
    },
  );

  it('advances an idle stream checkpoint from postBatchResumeToken', async () => {
    const db = uniqueName('quiet');
    relay = await startRelay(relayOptions(ground(), { streams: [{ db, collection: 'idle' }] }));
    const name = `${db}.idle`;
    const first = await waitFor(
      async () => (await readCheckpoint(mongo, name))?.resumeToken?._data as string | undefined,
      { what: 'a first token' },
    );
    // Writes elsewhere move the cluster time; the quiet collection's token must follow.
    await mongo.db(db).collection('elsewhere').insertOne({ x: 1 });
    await waitFor(async () => ((await readCheckpoint(mongo, name))?.resumeToken?._data ?? '') > first, {
      what: 'the idle token to advance',
    });
    expect(relay.status().streams[0].eventsPublished).toBe(0);
  });

  it('never relays the library collections, even when watching their database', async () => {
    const db = uniqueName('own');
    relay = await startRelay(
      relayOptions(ground(), {
        streams: [{ db }],
        storage: { database: db },
        excludeNamespaces: [`${db}.private`],
      }),
    );
    await waitFor(
      async () =>
        (
          await mongo
            .db(db)
            .collection<{ _id: string; resumeToken?: unknown }>('change_stream_checkpoints')
            .findOne({ _id: db })
        )?.resumeToken,
      { what: 'first checkpoint' },
    );
    await mongo.db(db).collection('private').insertOne({ secret: true });
    await mongo.db(db).collection('visible').insertOne({ n: 1 });
    reader = await new TopicReader(ground().kafkaBrokers, [
      `cdc.${db}.visible`,
      `cdc.${db}.change_stream_checkpoints`,
      `cdc.${db}.change_stream_leases`,
      `cdc.${db}.private`,
    ]).start();
    await reader.waitFor((m) => m.some((x) => x.topic === `cdc.${db}.visible`), 'the visible insert');
    // Checkpoints were written many times meanwhile (every 100 ms): none of them was relayed.
    expect(relay.status().streams[0].checkpointsWritten).toBeGreaterThan(1);
    expect(reader.messages.map((m) => m.topic)).toEqual([`cdc.${db}.visible`]);
  });
});
