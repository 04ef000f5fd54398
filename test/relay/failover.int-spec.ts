import type { MongoClient } from 'mongodb';
import { uniqueName, useGround, type Ground } from '../support/ground';
import { waitFor } from '../support/wait';
import { connectMongo, RelayProcess, readCheckpoint, TopicReader, type FixtureEnv } from './support';

const TTL_MS = 2_000;

/** Inserts `{ seq }` documents one after another until stopped; returns how many it inserted. */
function startWriter(mongo: MongoClient, db: string) {
  let stopped = false;
  let seq = 0;
  const done = (async () => {
    const orders = mongo.db(db).collection('orders');
    while (!stopped) {
      await orders.insertOne({ _id: seq, seq } as never);
      seq++;
      // NOTE: paces the writer (about 100 writes/s) so the relay is always busy but the stand-ins are not flooded.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return seq;
  })();
  let stopping: Promise<number> | undefined;
  return {
    get count() {
      return seq;
    },
    stop: () => (stopping ??= ((stopped = true), done)),
  };
}

/** Two relay replicas in child processes over one stream; the leader's fate is up to each test. */
async function startPair(ground: Ground, db: string, lease: 'redis' | 'mongo') {
  const env: FixtureEnv = {
    MONGO_URL: ground.mongoUrl,
    KAFKA_BROKERS: ground.kafkaBrokers.join(','),
    STREAM_DB: db,
    STREAM_COLLECTION: 'orders',
    LEASE_TTL_MS: String(TTL_MS),
    ...(lease === 'redis' ? { REDIS_URLS: ground.redisUrls.join(',') } : {}),
  };
  const replicas = [new RelayProcess(env), new RelayProcess(env)];
  await waitFor(
    () => replicas.some((r) => r.lastStatus()?.role === 'leader') && replicas.every((r) => r.lastStatus()),
    {
      timeoutMs: 30_000,
      what: `a leader among two replicas; output:\n${replicas.map((r) => r.log.slice(-1_500)).join('\n---\n')}`,
    },
  );
  const leader = replicas.find((r) => r.lastStatus()?.role === 'leader')!;
  const standby = replicas.find((r) => r !== leader)!;
  return { replicas, leader, standby };
}

/** Every inserted sequence number 0..count-1 reached Kafka (at least once). */
function missing(reader: TopicReader, count: number): number[] {
  const seen = new Set(
    reader.messages
      .filter((m) => m.event.operationType === 'insert')
      .map((m) => Number(m.event.fullDocument.seq)),
  );
  return Array.from({ length: count }, (_, i) => i).filter((seq) => !seen.has(seq));
}

/** Waits until every insert reached Kafka; on timeout names the missing ones and shows the replicas' logs. */
async function allPublished(reader: TopicReader, count: number, replicas: RelayProcess[]): Promise<void> {
  await waitFor(() => missing(reader, count).length === 0, {
    timeoutMs: 30_000,
    what: `all ${count} inserts in Kafka`,
  }).catch((error) => {
    const logs = replicas.map((r) => `--- pid ${r.child.pid}\n${r.log.slice(-3_000)}`).join('\n');
    throw new Error(
      `${error.message}; missing seq ${missing(reader, count).slice(0, 50).join(',')}\n${logs}`,
    );
  });
}

/** The stream's checkpoint was last written under `epoch` (a deposed leader's writes are fenced). */
async function expectCheckpointOf(mongo: MongoClient, db: string, epoch: number): Promise<void> {
  const checkpoint = await readCheckpoint(mongo, `${db}.orders`);
  expect(checkpoint).toMatchObject({ epoch });
}

describe('relay failover across processes', () => {
  const ground = useGround({ mongo: true, kafka: true, redis: 3 });
  let mongo: MongoClient;
  let replicas: RelayProcess[] = [];
  let reader: TopicReader | undefined;
  let writer: ReturnType<typeof startWriter> | undefined;

  beforeAll(async () => {
    mongo = await connectMongo(ground());
  });
  afterEach(async () => {
    await writer?.stop().catch(() => undefined);
    writer = undefined;
    await Promise.all(replicas.map((r) => r.kill()));
    await reader?.stop();
    replicas = [];
    reader = undefined;
  });
  afterAll(async () => {
    await mongo?.close();
  });

  it.each(['redis', 'mongo'] as const)(
    'SIGKILLed leader (%s lease): the standby takes over within TTL + 1 s and nothing is lost',
    async (lease) => {
      const db = uniqueName('kill');
      const pair = await startPair(ground(), db, lease);
      replicas = pair.replicas;
      reader = await new TopicReader(ground().kafkaBrokers, [`cdc.${db}.orders`]).start();
      writer = startWriter(mongo, db);
      await reader.waitFor((m) => m.length >= 20, 'events before the crash');

      pair.leader.signal('SIGKILL');
      await pair.leader.exited;
      await pair.standby.waitForRole('leader', TTL_MS + 1_000);

      await reader.waitFor(
        (m) => m.some((x) => x.epoch > pair.leader.lastStatus()!.epoch!),
        'events from the new leader',
      );
      const count = await writer!.stop();
      await allPublished(reader, count, replicas);
      expect(missing(reader, count)).toEqual([]);
      // NOTE: no assertion on the order of epochs in a partition: a request the killed process had
      // already written may reach the broker late, and only Kafka-side fencing (the next step)
      // orders that. What the library guarantees is checkpoint fencing: only the new epoch writes it.
      await expectCheckpointOf(mongo, db, pair.standby.lastStatus()!.epoch!);
    },
    60_000,
  );

  // What a paused leader is guaranteed to do once it resumes: start no send after its term's
  // deadline (nothing read after the takeover goes out under its epoch), stop its producer at once,
  // and write no checkpoint (fenced by epoch). Not asserted: a send already in flight when it paused
  // may still land after the new leader's messages; Kafka-side fencing of that is the next step.
  it('a paused (SIGSTOP) leader is replaced; after SIGCONT it starts no send, stops its producer and is fenced', async () => {
    const db = uniqueName('zombie');
    const pair = await startPair(ground(), db, 'redis');
    replicas = pair.replicas;
    reader = await new TopicReader(ground().kafkaBrokers, [`cdc.${db}.orders`]).start();
    writer = startWriter(mongo, db);
    await reader.waitFor((m) => m.length >= 10, 'events before the pause');
    const oldEpoch = pair.leader.lastStatus()!.epoch!;

    pair.leader.signal('SIGSTOP');
    await pair.standby.waitForRole('leader', TTL_MS + 1_000);
    const takeover = writer!.count;
    pair.leader.signal('SIGCONT');
    await pair.leader.waitForRole('standby');
    await waitFor(
      () => pair.leader.log.includes(`term of epoch ${oldEpoch} ended; its producer was stopped`),
      {
        what: `the paused leader to stop its producer; output:\n${pair.leader.log.slice(-2_000)}`,
      },
    );
    const count = await writer!.stop();

    await allPublished(reader, count, replicas);
    // Inserted after the takeover: read by the old leader, if at all, only after its deadline.
    const late = reader.messages.filter(
      (m) => Number(m.event.fullDocument.seq) >= takeover && m.epoch === oldEpoch,
    );
    expect(late).toEqual([]);
    await expectCheckpointOf(mongo, db, pair.standby.lastStatus()!.epoch!);
  }, 60_000);

  it('SIGTERM: the leader drains and releases, and the standby publishes within 1 s of its exit', async () => {
    const db = uniqueName('term');
    const pair = await startPair(ground(), db, 'redis');
    replicas = pair.replicas;
    reader = await new TopicReader(ground().kafkaBrokers, [`cdc.${db}.orders`]).start();
    writer = startWriter(mongo, db);
    await reader.waitFor((m) => m.length >= 10, 'events before shutdown');

    pair.leader.signal('SIGTERM');
    await pair.leader.exited;
    expect(pair.leader.log).toContain('SHUTDOWN COMPLETE');
    await pair.standby.waitForPublishing(1_000);

    const count = await writer!.stop();
    await allPublished(reader, count, replicas);
    // The drained leader checkpointed what it published: the new leader replays little or nothing.
    const oldEpoch = pair.leader.lastStatus()!.epoch!;
    const published = new Set(reader.messages.filter((m) => m.epoch === oldEpoch).map((m) => m.eventId));
    const replayed = reader.messages.filter((m) => m.epoch > oldEpoch && published.has(m.eventId));
    expect(replayed).toEqual([]);
  }, 60_000);
});
