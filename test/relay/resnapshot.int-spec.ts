import { Logger } from '@nestjs/common';
import { Kafka } from 'kafkajs';
import { MongoClient, type Document } from 'mongodb';
import { resolveOptions } from '../../libs/change-stream/src/options/resolve-options';
import { ChangeStreamStatus } from '../../libs/change-stream/src/health/relay-status';
import type { Lease } from '../../libs/change-stream/src/leader/lease.interface';
import { EMPTY_POSITION } from '../../libs/change-stream/src/relay/checkpoint.store';
import { currentOperationTime, newSnapshot } from '../../libs/change-stream/src/relay/snapshot.source';
import { StreamRelay } from '../../libs/change-stream/src/relay/stream-relay';
import { TEST_KAFKA_SETTINGS } from '../support/kafka-clients';
import { uniqueName, useGround } from '../support/ground';
import { waitFor } from '../support/wait';
import { connectMongo, relayOptions, readCheckpoint, TopicReader, type ReadMessage } from './support';

/** A lease held until `lost()` says otherwise: then its validity is over at once (a paused leader). */
class ControlledLease implements Lease {
  readonly name = 'controlled';
  private held = false;

  constructor(private readonly lost: () => boolean = () => false) {}

  get validUntil(): number {
    return this.held && !this.lost() ? Date.now() + 60_000 : 0;
  }

  async acquire(): Promise<boolean> {
    this.held = !this.lost();
    return this.held;
  }

  async renew(): Promise<boolean> {
    return this.held && !this.lost();
  }

  async release(): Promise<void> {
    this.held = false;
  }
}

const DOCS = 200;

describe('relay: resnapshot runs', () => {
  const ground = useGround({ mongo: true, kafka: true });
  let mongo: MongoClient;
  let reader: TopicReader | undefined;
  const relays: StreamRelay[] = [];

  beforeAll(async () => {
    mongo = await connectMongo(ground());
  });
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((relay) => relay.stop()));
    await reader?.stop();
    reader = undefined;
  });
  afterAll(async () => {
    await mongo?.close();
  });

  /** Seeds `count` documents and a checkpoint holding a resnapshot run not yet started (history lost earlier). */
  const seed = async (db: string, count: number) => {
    await mongo
      .db(db)
      .collection<{ _id: number; n: number }>('orders')
      .insertMany(Array.from({ length: count }, (_, i) => ({ _id: i, n: i })));
    const operationTime = await currentOperationTime(mongo);
    await mongo
      .db('nest_change_stream')
      .collection<{ _id: string; [key: string]: unknown }>('change_stream_checkpoints')
      .insertOne({
        _id: `${db}.orders`,
        epoch: 0,
        ...EMPTY_POSITION,
        snapshot: newSnapshot(operationTime),
        clusterTime: operationTime,
      });
    return operationTime;
  };

  /** Starts a StreamRelay of `<db>.orders` on `client` with `lease`, reporting into `status`. */
  const startRelay = (
    db: string,
    status: ChangeStreamStatus,
    lease: Lease,
    extra: { client?: MongoClient; pipeline?: Document[]; relay?: Record<string, unknown> } = {},
  ) => {
    const options = resolveOptions(
      relayOptions(ground(), {
        streams: [{ db, collection: 'orders', ...(extra.pipeline ? { pipeline: extra.pipeline } : {}) }],
        onHistoryLost: 'resnapshot',
        relay: {
          maxAwaitTimeMs: 200,
          checkpointIntervalMs: 0,
          backoff: { initialDelayMs: 50, maxDelayMs: 500 },
          shutdownTimeoutMs: 2_000,
          batchSize: 10,
          maxInFlightEvents: 20,
          ...extra.relay,
        },
      }),
    );
    const relay = new StreamRelay({
      stream: options.streams[0],
      options,
      client: extra.client ?? mongo,
      kafka: new Kafka({ ...TEST_KAFKA_SETTINGS, brokers: ground().kafkaBrokers }),
      producerThread: null,
      lease,
      status,
      logger: new Logger('resnapshot-spec', { timestamp: false }),
    });
    relays.push(relay);
    relay.start();
    return relay;
  };

  const finished = (db: string) =>
    waitFor(async () => (await readCheckpoint(mongo, `${db}.orders`))?.snapshot === null, {
      what: 'the resnapshot to finish',
    });

  it('saves the scan progress, never "finished" early; a new leader continues the scan, then streams', async () => {
    const db = uniqueName('resnap_lease');
    const name = `${db}.orders`;
    await seed(db, DOCS);

    // Leader A: its lease runs out (as for a process paused past its validity) after 50 events.
    const statusA = new ChangeStreamStatus();
    const published = () => statusA.stream(name).snapshot().eventsPublished;
    const first = startRelay(db, statusA, new ControlledLease(() => published() >= 50));
    await waitFor(() => published() >= 50 && statusA.stream(name).snapshot().role !== 'leader', {
      what: 'leader A to lose its lease midway through the scan',
    });
    await first.stop();
    const afterA = await readCheckpoint(mongo, name);
    expect(published()).toBeLessThan(DOCS);
    // NOTE: the bug this shows: the cut-short session returned normally and the run was saved finished.
    expect(afterA?.snapshot).not.toBeNull();
    expect(afterA?.snapshot?.last?.coll).toBe('orders');
    expect(afterA?.snapshot?.last?.id).toBeGreaterThanOrEqual(40);

    // Leader B continues the scan where A stopped, then streams.
    startRelay(db, new ChangeStreamStatus(), new ControlledLease());
    await finished(db);
    await mongo.db(db).collection<{ _id: number; n: number }>('orders').insertOne({ _id: DOCS, n: DOCS });
    reader = await new TopicReader(ground().kafkaBrokers, [`cdc.${db}.orders`]).start();
    const snapshotIds = () =>
      new Set(
        reader!.messages
          .filter((m) => m.event.operationType === 'snapshot')
          .map((m) => Number(m.event.documentKey._id)),
      );
    await reader.waitFor(
      (m) => snapshotIds().size === DOCS && m.some((x) => x.event.operationType === 'insert'),
      'every document as a snapshot event, then the insert',
    );
    const byB = reader.messages.filter((m) => m.event.operationType === 'snapshot' && m.epoch === 2);
    expect(byB.length).toBeLessThanOrEqual(DOCS - 40);
    expect(byB.length).toBeGreaterThan(0);
  });

  it("publishes start and end markers with the run id on every partition, around the run's snapshot events", async () => {
    const db = uniqueName('resnap_markers');
    const topic = `cdc.${db}.orders`;
    const admin = new Kafka({ ...TEST_KAFKA_SETTINGS, brokers: ground().kafkaBrokers }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    await admin.disconnect();
    const operationTime = await seed(db, 30);
    const runId = newSnapshot(operationTime).runId;
    startRelay(db, new ChangeStreamStatus(), new ControlledLease());
    await finished(db);
    reader = await new TopicReader(ground().kafkaBrokers, [topic]).start();
    const ended = (m: ReadMessage[]) => m.filter((x) => x.event.operationType === 'snapshotEnd').length;
    await reader.waitFor((m) => ended(m) === 3, 'an end marker on each of the 3 partitions');

    for (const partition of [0, 1, 2]) {
      const ops = reader.messages.filter((m) => m.partition === partition);
      const kinds = ops.map((m) => m.event.operationType);
      const end = kinds.indexOf('snapshotEnd');
      // NOTE: startAtOperationTime is inclusive (as on mongod): the seed's last insert may follow the run.
      expect(kinds[0]).toBe('snapshotStart');
      expect(kinds.slice(1, end).every((kind) => kind === 'snapshot')).toBe(true);
      expect(kinds.slice(end + 1).every((kind) => !String(kind).startsWith('snapshot'))).toBe(true);
      for (const marker of [ops[0], ops[end]]) {
        expect(marker.event).toMatchObject({ runId, collections: ['orders'] });
        expect([Number(marker.event.partition), Number(marker.event.partitions)]).toEqual([partition, 3]);
        expect(marker.event.clusterTime).toEqual(operationTime);
      }
    }
    const snapshots = reader.messages.filter((m) => m.event.operationType === 'snapshot');
    expect(snapshots).toHaveLength(30);
    expect(snapshots.every((m) => m.eventId.startsWith(`snapshot:${runId}:`))).toBe(true);
  });

  it("scans the primary at read concern majority, causally after the run's operation time, whatever the client's defaults", async () => {
    const db = uniqueName('resnap_rc');
    const operationTime = await seed(db, 5);
    // NOTE: mongod waits with such a read until its majority snapshot includes afterClusterTime, so
    // every write up to the run's operation time is in the scan. The stand-in is one node: its
    // majority snapshot is its latest, as a one-member replica set's is.
    const client = await new MongoClient(ground().mongoUrl, {
      monitorCommands: true,
      readPreference: 'secondaryPreferred',
      readConcernLevel: 'local',
    }).connect();
    const scans: Document[] = [];
    client.on('commandStarted', (event) => {
      const command = event.command;
      if (event.commandName === 'aggregate' && !command.pipeline[0].$changeStream) scans.push(command);
    });
    try {
      startRelay(db, new ChangeStreamStatus(), new ControlledLease(), { client });
      await finished(db);
      expect(scans).toHaveLength(1);
      expect({ ...scans[0].readConcern }).toEqual({ level: 'majority', afterClusterTime: operationTime });
      expect(scans[0].$readPreference?.mode ?? 'primary').toBe('primary');
    } finally {
      await Promise.all(relays.splice(0).map((relay) => relay.stop()));
      await client.close();
    }
  });

  it("runs the stream's pipeline on each document as its insert: an operationType $match keeps snapshot events", async () => {
    const db = uniqueName('resnap_match');
    await seed(db, 10);
    const pipeline = [{ $match: { operationType: { $in: ['insert', 'update', 'delete'] } } }];
    startRelay(db, new ChangeStreamStatus(), new ControlledLease(), { pipeline });
    await finished(db);
    reader = await new TopicReader(ground().kafkaBrokers, [`cdc.${db}.orders`]).start();
    const snapshots = () => reader!.messages.filter((m) => m.event.operationType === 'snapshot');
    await reader.waitFor(() => snapshots().length >= 10, 'ten snapshot events');
    expect(
      snapshots()
        .map((m) => Number(m.event.documentKey._id))
        .sort((a, b) => a - b),
    ).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });

  it('a snapshot document the relay cannot publish follows relay.onUnpublishable, as a change event does', async () => {
    const db = uniqueName('resnap_big');
    // One document larger than the largest batch the relay may send (relay.maxBatchBytes), written
    // before the run's operation time: only the scan sees it.
    await mongo
      .db(db)
      .collection('orders')
      .insertOne({ _id: 99 as never, blob: 'x'.repeat(4_000) });
    await seed(db, 5);
    const status = new ChangeStreamStatus();
    const relay = { onUnpublishable: 'deadLetter', deadLetterTopic: `${db}.relay.dlq`, maxBatchBytes: 2_048 };
    startRelay(db, status, new ControlledLease(), { relay });
    await finished(db);
    reader = await new TopicReader(ground().kafkaBrokers, [`cdc.${db}.orders`]).start();
    const snapshots = () => reader!.messages.filter((m) => m.event.operationType === 'snapshot');
    const ends = () => reader!.messages.filter((m) => m.event.operationType === 'snapshotEnd');
    await reader.waitFor(
      () =>
        ends().length > 0 && ends().length >= Number((ends()[0].event as { partitions: unknown }).partitions),
      'the end marker of every partition',
    );
    // Before: the large one went out as a snapshot event over the limit (no policy applied to scans).
    expect(
      snapshots()
        .map((m) => Number(m.event.documentKey._id))
        .sort((a, b) => a - b),
    ).toEqual([0, 1, 2, 3, 4]);
    expect(status.stream(`${db}.orders`).snapshot().unpublishableEvents).toBe(1);
  });
});
