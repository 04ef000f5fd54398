/**
 * Events the relay cannot publish, and records Kafka refuses (issue 15, items 1 and 8), on the real
 * broker: never a silent skip, never a retry forever. MongoDB side: the stand-in accepts collection
 * names with a space, as mongod does (only "$" and "\0" are refused there).
 */
import { Kafka, type Consumer } from 'kafkajs';
import type { MongoClient } from 'mongodb';
import { uniqueName, useGround } from '../support/ground';
import {
  subscribeFromBeginning,
  TEST_CONSUMER_SETTINGS,
  TEST_KAFKA_SETTINGS,
} from '../support/kafka-clients';
import { waitFor } from '../support/wait';
import {
  connectMongo,
  relayOptions,
  readCheckpoint,
  startRelay,
  TopicReader,
  type RelayApp,
} from './support';

/** Every message of a topic, value parsed as JSON (dead-letter records are JSON, not change events). */
class RawReader {
  readonly values: Array<Record<string, any>> = [];
  private consumer?: Consumer;
  constructor(
    private readonly brokers: string[],
    private readonly topic: string,
  ) {}
  async start(): Promise<this> {
    const kafka = new Kafka({ ...TEST_KAFKA_SETTINGS, clientId: 'raw-reader', brokers: this.brokers });
    this.consumer = kafka.consumer({ ...TEST_CONSUMER_SETTINGS, groupId: uniqueName('raw') });
    await this.consumer.connect();
    await subscribeFromBeginning(this.consumer, [this.topic]);
    await this.consumer.run({
      eachMessage: async ({ message }) => void this.values.push(JSON.parse(String(message.value))),
    });
    return this;
  }
  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

describe('relay: events it cannot publish, records Kafka refuses', () => {
  const ground = useGround({ mongo: true, kafka: true });
  let mongo: MongoClient;
  let relay: RelayApp | undefined;
  const readers: Array<{ stop(): Promise<void> }> = [];

  beforeAll(async () => {
    mongo = await connectMongo(ground());
  });
  afterEach(async () => {
    await relay?.close();
    for (const reader of readers.splice(0)) await reader.stop();
    relay = undefined;
  });
  afterAll(async () => {
    await mongo?.close();
  });

  const leader = () =>
    waitFor(() => relay!.status().streams[0]?.role === 'leader' && relay!.status().streams[0].epoch, {
      what: 'a leader',
    });
  const stopped = () =>
    waitFor(
      () =>
        relay!.status().streams[0].stoppedReason ??
        (relay!.status().streams[0].eventsPublished > 1 && 'published past it'),
      { what: 'the stream to stop', timeoutMs: 20_000 },
    );

  /** Creates a topic with the given configs (e.g. a small max.message.bytes). */
  async function createTopic(name: string, configs: Record<string, string>): Promise<void> {
    const admin = new Kafka({ ...TEST_KAFKA_SETTINGS, brokers: ground().kafkaBrokers }).admin();
    await admin.connect();
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic: name,
            numPartitions: 1,
            configEntries: Object.entries(configs).map(([n, value]) => ({ name: n, value })),
          },
        ],
      });
    } finally {
      await admin.disconnect();
    }
  }

  const poisonTopic = (db: string) => (ns: { coll: string }) => {
    if (ns.coll === 'poison') throw new Error('no topic for poison');
    return `cdc.${db}.${ns.coll}`;
  };

  it("item 1: a topic function that throws stops the stream (onUnpublishable 'fail'), naming the event; nothing after it is published", async () => {
    const db = uniqueName('shop');
    relay = await startRelay(relayOptions(ground(), { streams: [{ db, topic: poisonTopic(db) }] }));
    await leader();
    await mongo.db(db).collection('good').insertOne({ n: 1 });
    const { insertedId } = await mongo.db(db).collection('poison').insertOne({ n: 2 });
    await mongo.db(db).collection('good').insertOne({ n: 3 });

    // Before the fix: the poison event was skipped silently, n: 3 was published, the role stayed leader.
    const reason = String(await stopped());
    const status = relay.status();
    expect(status.streams[0]).toMatchObject({ role: 'stopped', eventsPublished: 1, unpublishableEvents: 1 });
    expect(status.healthy).toBe(false);
    expect(reason).toContain(`${db}.poison`);
    expect(reason).toContain('no topic for poison');
    expect(reason.toLowerCase()).toContain(insertedId.toHexString());
    // The checkpoint stays before the poison event: a restart after a fix publishes it.
    const eventId = /event ([0-9A-F]{20,})/.exec(reason)?.[1] ?? '';
    const checkpoint = await readCheckpoint(mongo, db);
    expect(checkpoint?.resumeToken?._data < eventId).toBe(true);
  });

  it("item 1: a collection name Kafka refuses goes to the relay dead-letter topic (onUnpublishable 'deadLetter'), then the stream goes on", async () => {
    const db = uniqueName('shop');
    const deadLetterTopic = uniqueName('relay-dlq');
    relay = await startRelay(
      relayOptions(ground(), {
        streams: [{ db }],
        relay: { ...relayOptions(ground()).relay, onUnpublishable: 'deadLetter', deadLetterTopic },
      }),
    );
    await leader();
    const { insertedId } = await mongo.db(db).collection('bad name').insertOne({ n: 1 });
    await mongo.db(db).collection('good').insertOne({ n: 2 });

    const dead = await new RawReader(ground().kafkaBrokers, deadLetterTopic).start();
    readers.push(dead);
    const events = await new TopicReader(ground().kafkaBrokers, [`cdc.${db}.good`]).start();
    readers.push(events);
    await waitFor(() => dead.values.length === 1, { what: 'the dead-letter record', timeoutMs: 20_000 });
    await events.waitFor((m) => m.length === 1, 'the event after it');
    expect(dead.values[0]).toMatchObject({
      stream: db,
      namespace: `${db}.bad name`,
      documentKey: { _id: { $oid: insertedId.toHexString() } },
    });
    expect(dead.values[0].reason).toContain('not a valid Kafka topic name');
    expect(dead.values[0].eventId).toMatch(/^[0-9A-F]{20,}/);
    expect(relay.status().streams[0]).toMatchObject({ role: 'leader', unpublishableEvents: 1 });
  });

  it('item 8: a backlog whose sum exceeds the topic max.message.bytes is sent in batches under it', async () => {
    const db = uniqueName('shop');
    const topic = `cdc.${db}.orders`;
    await createTopic(topic, { 'max.message.bytes': '20000' });
    relay = await startRelay(
      relayOptions(ground(), {
        streams: [{ db, collection: 'orders' }],
        relay: { ...relayOptions(ground()).relay, batchSize: 500 },
      }),
    );
    await leader();
    const docs = Array.from({ length: 60 }, (_, n) => ({ n, pad: 'p'.repeat(2_000) }));
    await mongo.db(db).collection('orders').insertMany(docs);

    const reader = await new TopicReader(ground().kafkaBrokers, [topic]).start();
    readers.push(reader);
    // Before the fix: the batch of 60 x 2 kB was refused (RECORD_LIST_TOO_LARGE) and retried forever.
    await reader.waitFor(
      (m) => m.length === 60 || relay!.status().streams[0].publishFailures > 0,
      '60 events',
      20_000,
    );
    expect(relay.status().streams[0].publishFailures).toBe(0);
    expect(reader.messages.map((m) => Number(m.event.fullDocument.n))).toEqual(docs.map((d) => d.n));
  });

  it("item 8: a single event over the topic limit stops the stream ('fail'), or leaves a reference record ('deadLetter')", async () => {
    const db = uniqueName('shop');
    const topic = `cdc.${db}.orders`;
    await createTopic(topic, { 'max.message.bytes': '20000' });
    relay = await startRelay(relayOptions(ground(), { streams: [{ db, collection: 'orders' }] }));
    await leader();
    await mongo.db(db).collection('orders').insertOne({ n: 1 });
    const { insertedId } = await mongo
      .db(db)
      .collection('orders')
      .insertOne({ n: 2, pad: 'x'.repeat(30_000) });
    await mongo.db(db).collection('orders').insertOne({ n: 3 });
    // Before the fix: refused (MESSAGE_TOO_LARGE), retried forever, health UP.
    const reason = String(await stopped());
    expect(reason).toContain('too large');
    expect(reason).toContain(`${db}.orders`);
    expect(relay.status().healthy).toBe(false);
    expect(relay.status().streams[0].eventsPublished).toBe(1);
    await relay.close();

    const deadLetterTopic = uniqueName('relay-dlq');
    relay = await startRelay(
      relayOptions(ground(), {
        streams: [{ db, collection: 'orders' }],
        relay: { ...relayOptions(ground()).relay, onUnpublishable: 'deadLetter', deadLetterTopic },
      }),
    );
    const dead = await new RawReader(ground().kafkaBrokers, deadLetterTopic).start();
    readers.push(dead);
    const reader = await new TopicReader(ground().kafkaBrokers, [topic]).start();
    readers.push(reader);
    await reader.waitFor(
      (m) => m.some((x) => Number(x.event.fullDocument?.n) === 3),
      'the event after the big one',
    );
    await waitFor(() => dead.values.length === 1, { what: 'the reference record' });
    expect(dead.values[0]).toMatchObject({
      namespace: `${db}.orders`,
      documentKey: { _id: { $oid: insertedId.toHexString() } },
    });
    expect(dead.values[0].size).toBeGreaterThan(30_000);
    expect(dead.values[0].reason).toContain('too large');
    expect(JSON.stringify(dead.values[0])).not.toContain('xxxxxxxx');
    expect(reader.messages.map((m) => Number(m.event.fullDocument?.n))).toEqual([1, 3]);
  });

  it.each([
    ['on its producer thread', true],
    ['in the main thread', false],
  ])(
    'item 8: a record Kafka refuses for good stops the stream with its Kafka error, not retried forever: producer %s',
    async (_, producerThread) => {
      const db = uniqueName('shop');
      const topic = `cdc.${db}.orders`;
      await createTopic(topic, { 'max.message.bytes': '200000' });
      relay = await startRelay(
        relayOptions(ground(), {
          kafka: { brokers: ground().kafkaBrokers, ...TEST_KAFKA_SETTINGS, producerThread },
          streams: [{ db, collection: 'orders' }],
        }),
      );
      await leader();
      // Once an event was published, the relay has read the topic's limit (at the start of its term).
      await mongo.db(db).collection('orders').insertOne({ n: 1 });
      await waitFor(() => relay!.status().streams[0].eventsPublished === 1, { what: 'a first event' });
      // Lowered after the relay read the limit: the broker refuses what the relay let through.
      const admin = new Kafka({ ...TEST_KAFKA_SETTINGS, brokers: ground().kafkaBrokers }).admin();
      await admin.connect();
      await admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: 2, name: topic, configEntries: [{ name: 'max.message.bytes', value: '10000' }] }],
      });
      await admin.disconnect();
      await mongo
        .db(db)
        .collection('orders')
        .insertOne({ pad: 'x'.repeat(50_000) });
      const reason = String(
        await waitFor(
          () =>
            relay!.status().streams[0].stoppedReason ??
            (relay!.status().streams[0].publishFailures > 3 && 'retried more than 3 times'),
          { what: 'the stream to stop', timeoutMs: 20_000 },
        ),
      );
      expect(reason).toMatch(/MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE/);
      expect(relay.status().streams[0].role).toBe('stopped');
    },
  );
});
