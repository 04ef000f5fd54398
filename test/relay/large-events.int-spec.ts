/**
 * Change events over MongoDB's 16 MB limit, and pipelines MongoDB cannot resume, end to end on the
 * ground (the MongoDB stand-in behaves as mongod 7.0 here: BSONObjectTooLarge 10334 for an event
 * over 16 MB + 16 KB without `$changeStreamSplitLargeEvent`; fragments with their own tokens with
 * it; ChangeStreamFatalError 280 with mongod's message when a stage modifies `_id`).
 */
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { INestApplicationContext } from '@nestjs/common';
import type { MongoClient } from 'mongodb';
import { ChangeHandler, ChangeStreamModule, ChangeStreamStatus, type ChangeEvent } from 'nest-change-stream';
import { TEST_CONSUMER_SETTINGS, TEST_KAFKA_SETTINGS } from '../support/kafka-clients';
import { uniqueName, useGround } from '../support/ground';
import { waitFor } from '../support/wait';
import { connectMongo, FAST, relayOptions, startRelay, type RelayApp } from './support';

const MB = 1024 * 1024;
const PREFIX = uniqueName('large');
const SPLIT_DB = uniqueName('split_on');
const PLAIN_DB = uniqueName('split_off');
/** Topics that take one fragment (up to 16 MB of BSON, more as Extended JSON). */
const BIG_TOPIC = { 'max.message.bytes': String(40 * MB) };

interface Doc {
  _id: number;
  a: string;
  b?: string;
}

/** What the handler received, whole. */
const received: Array<ChangeEvent<Doc>> = [];

@Injectable()
class LargeDocsHandler {
  @ChangeHandler<Doc>('docs', { database: SPLIT_DB, transaction: false })
  async handle(event: ChangeEvent<Doc>): Promise<void> {
    received.push(event);
  }
}

describe('relay: events over 16 MB, pipelines MongoDB cannot resume', () => {
  // A broker of this file's own whose message.max.bytes takes one fragment (the relay reads it as its limit).
  const ground = useGround({
    mongo: true,
    kafka: {
      dedicated: true,
      config: { 'message.max.bytes': String(40 * MB) },
      topics: [
        { name: `${PREFIX}.${SPLIT_DB}.docs`, partitions: 2, config: BIG_TOPIC },
        { name: `cdc.${PLAIN_DB}.docs`, partitions: 1, config: BIG_TOPIC },
      ],
    },
  });
  let mongo: MongoClient;
  let app: INestApplicationContext | undefined;
  let relay: RelayApp | undefined;

  /** A 6 MB document, then a 6 MB field more: the update event (6 MB change + 12 MB fullDocument) is over 16 MB. */
  const writeLargeUpdate = async (db: string) => {
    const docs = mongo.db(db).collection<Doc>('docs');
    await docs.insertOne({ _id: 1, a: 'a'.repeat(6 * MB) });
    await docs.updateOne({ _id: 1 }, { $set: { b: 'b'.repeat(6 * MB) } });
  };

  beforeAll(async () => {
    mongo = await connectMongo(ground());
  });
  afterEach(async () => {
    await app?.close();
    await relay?.close();
    app = relay = undefined;
  });
  afterAll(async () => {
    await mongo?.close();
  });

  it('split on: an update event over 16 MB reaches the @ChangeHandler whole, once', async () => {
    const { mongoUrl, kafkaBrokers } = ground();
    const moduleRef = await Test.createTestingModule({
      imports: [
        ChangeStreamModule.forRoot({
          ...FAST,
          relay: { ...FAST.relay, maxBatchBytes: 40 * MB },
          mongo: { uri: mongoUrl },
          kafka: {
            ...TEST_KAFKA_SETTINGS,
            brokers: kafkaBrokers,
            topicPrefix: PREFIX,
            producerThread: false,
          },
          streams: [
            { db: SPLIT_DB, collection: 'docs', fullDocument: 'updateLookup', splitLargeEvents: true },
          ],
          worker: {
            groupId: uniqueName('large-workers'),
            // A fetch must hold a whole split event (see fragment-assembler.ts).
            kafka: { ...TEST_CONSUMER_SETTINGS, maxBytes: 64 * MB, maxBytesPerPartition: 64 * MB },
          },
        }),
      ],
      providers: [LargeDocsHandler],
    }).compile();
    const logs: string[] = [];
    const keep = (level: string) => (message: unknown) => void logs.push(`${level}: ${String(message)}`);
    const logger = { log: keep('log'), warn: keep('warn'), error: keep('error') };
    app = moduleRef.createNestApplication({ logger });
    await app.init();
    const status = app.get(ChangeStreamStatus);
    await waitFor(() => status.snapshot().streams[0]?.epoch, { what: 'a leader' });

    await writeLargeUpdate(SPLIT_DB);

    const update = await waitFor(() => received.find((e) => e.operationType === 'update'), {
      timeoutMs: 60_000,
      what: `the update event at the handler; stream: ${JSON.stringify(status.snapshot().streams[0])}; logs:\n${logs.slice(-15).join('\n')}`,
    });
    if (update.operationType !== 'update') throw new Error('expected an update');
    expect(Number((update.documentKey as { _id: unknown })._id)).toBe(1);
    expect(update.fullDocument?.a).toHaveLength(6 * MB);
    expect(update.fullDocument?.b).toHaveLength(6 * MB);
    expect((update.updateDescription.updatedFields as Partial<Doc>).b).toHaveLength(6 * MB);
    expect(update).not.toHaveProperty('splitEvent');
    expect(received.filter((e) => e.operationType === 'update')).toHaveLength(1);
    expect(status.snapshot().streams[0].role).toBe('leader');
  }, 120_000);

  it('split off: the stream stops with an error that names the 16 MB limit and splitLargeEvents', async () => {
    relay = await startRelay(
      relayOptions(ground(), {
        streams: [
          { db: PLAIN_DB, collection: 'docs', fullDocument: 'updateLookup', operationTypes: ['update'] },
        ],
      }),
    );
    const stream = () => relay!.status().streams[0];
    await waitFor(() => stream()?.epoch, { what: 'a leader' });
    // NOTE: only updates are relayed: the 6 MB insert alone would be over the broker's default message.max.bytes.
    await writeLargeUpdate(PLAIN_DB);
    await waitFor(() => stream().role === 'stopped', {
      timeoutMs: 30_000,
      what: `the stream to stop; stream: ${JSON.stringify(stream())}`,
    });
    expect(stream().stoppedReason).toMatch(/over MongoDB's 16 MB BSON limit/);
    expect(stream().stoppedReason).toMatch(/BSONObjectTooLarge 10334/);
    expect(stream().stoppedReason).toMatch(/splitLargeEvents: true/);
    expect(relay.status().healthy).toBe(false);
  }, 60_000);

  it("a pipeline that modifies _id stops the stream by policy (not history lost, even with onHistoryLost 'resnapshot')", async () => {
    const db = uniqueName('id_modified');
    relay = await startRelay(
      relayOptions(ground(), {
        onHistoryLost: 'resnapshot',
        streams: [{ db, collection: 'docs', pipeline: [{ $set: { _id: 'replaced' } }] }],
      }),
    );
    const stream = () => relay!.status().streams[0];
    await waitFor(() => stream()?.epoch, { what: 'a leader' });
    await mongo
      .db(db)
      .collection('docs')
      .insertOne({ _id: 1 } as never);
    await waitFor(() => stream().role === 'stopped', {
      timeoutMs: 30_000,
      what: `the stream to stop; stream: ${JSON.stringify(stream())}`,
    });
    expect(stream().stoppedReason).toMatch(/must not modify or remove _id/);
    expect(stream().stoppedReason).toMatch(/ChangeStreamFatalError 280/);
    expect(stream().stoppedReason).not.toMatch(/no longer in the oplog/);
  }, 60_000);
});
