/**
 * relay.delivery 'exactly-once' across processes: each batch is one Kafka transaction with the
 * stream's checkpoint record, and a new leader resumes from the checkpoint committed with the
 * events, not from the MongoDB mirror. Relies on Kafka transactions (a real broker: the test
 * ground's, or KAFKA_BROKERS) and on kafkajs consumers reading committed records only.
 */
import type { MongoClient } from 'mongodb';
import { uniqueName, useGround, type Ground } from '../support/ground';
import { waitFor } from '../support/wait';
import { connectMongo, RelayProcess, readCheckpoint, TopicReader, type FixtureEnv } from './support';

const TTL_MS = 2_000;

async function startPair(ground: Ground, db: string, producerThread: boolean) {
  const env: FixtureEnv = {
    MONGO_URL: ground.mongoUrl,
    KAFKA_BROKERS: ground.kafkaBrokers.join(','),
    STREAM_DB: db,
    STREAM_COLLECTION: 'orders',
    LEASE_TTL_MS: String(TTL_MS),
    RELAY_DELIVERY: 'exactly-once',
    // NOTE: the MongoDB mirror is written once, then not for a minute: it lags the topic's checkpoint.
    CHECKPOINT_INTERVAL_MS: '60000',
    PRODUCER_THREAD: producerThread ? 'true' : 'false',
    ...(ground.redisUrls.length ? { REDIS_URLS: ground.redisUrls.join(',') } : {}),
  };
  const replicas = [new RelayProcess(env), new RelayProcess(env)];
  await waitFor(
    () => replicas.some((r) => r.lastStatus()?.role === 'leader') && replicas.every((r) => r.lastStatus()),
    {
      timeoutMs: 30_000,
      what: `a leader; output:\n${replicas.map((r) => r.log.slice(-1_500)).join('\n---\n')}`,
    },
  );
  const leader = replicas.find((r) => r.lastStatus()?.role === 'leader')!;
  return { replicas, leader, standby: replicas.find((r) => r !== leader)! };
}

/** How often each inserted `seq` was read from the topic (read committed). */
function counts(reader: TopicReader): Map<number, number> {
  const seen = new Map<number, number>();
  for (const m of reader.messages)
    if (m.event.operationType === 'insert') {
      const seq = Number(m.event.fullDocument.seq);
      seen.set(seq, (seen.get(seq) ?? 0) + 1);
    }
  return seen;
}

describe('exactly-once relay across a failover', () => {
  const ground = useGround({ mongo: true, kafka: true, redis: 3 });
  let mongo: MongoClient;
  let replicas: RelayProcess[] = [];
  let reader: TopicReader | undefined;
  beforeAll(async () => {
    mongo = await connectMongo(ground());
  });
  afterEach(async () => {
    await Promise.all(replicas.map((r) => r.kill()));
    await reader?.stop();
    replicas = [];
    reader = undefined;
  });
  afterAll(async () => {
    await mongo?.close();
  });

  it.each([
    ['on the producer thread', true],
    ['in the relay thread', false],
  ])(
    'SIGKILLed leader (%s): the new leader resumes from the topic checkpoint, not the lagging mirror; each event is read once',
    async (_where, producerThread) => {
      const db = uniqueName('eo');
      const orders = mongo.db(db).collection<{ _id: number; seq: number }>('orders');
      const pair = await startPair(ground(), db, producerThread);
      replicas = pair.replicas;
      reader = await new TopicReader(ground().kafkaBrokers, [`cdc.${db}.orders`]).start();
      await orders.insertOne({ _id: 0, seq: 0 });
      await reader.waitFor((m) => m.length >= 1, 'the first event');
      // The mirror took this first position; the next 30 are in the topic's checkpoint only.
      const mirror = await waitFor(async () => (await readCheckpoint(mongo, `${db}.orders`))?.resumeToken, {
        what: 'the MongoDB mirror of the first batch',
      });
      for (let seq = 1; seq <= 30; seq++) await orders.insertOne({ _id: seq, seq });
      await reader.waitFor((m) => m.length >= 31, '31 events before the crash');
      expect((await readCheckpoint(mongo, `${db}.orders`))?.resumeToken).toEqual(mirror);

      pair.leader.signal('SIGKILL');
      await pair.leader.exited;
      await pair.standby.waitForRole('leader', TTL_MS + 5_000);
      for (let seq = 31; seq < 40; seq++) await orders.insertOne({ _id: seq, seq });
      await reader.waitFor(() => counts(reader!).size >= 40, 'all 40 events');
      // NOTE: give a replay (the lagging mirror's 30 events) time to show before judging duplicates.
      await reader.waitFor((m) => m.some((x) => x.epoch === pair.standby.lastStatus()!.epoch), 'new epoch');
      const duplicates = [...counts(reader).entries()].filter(([, n]) => n > 1);
      expect(duplicates).toEqual([]);
      // The takeover brought the mirror in line with the topic's checkpoint.
      expect((await readCheckpoint(mongo, `${db}.orders`))?.resumeToken).not.toEqual(mirror);
    },
    90_000,
  );
});
