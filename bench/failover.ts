/**
 * Failover time of the relay: three relay replicas of the example service (APP_ROLE=relay,
 * separate processes) and orders written at a steady rate; the leader gets SIGKILL or SIGTERM, and
 * the time runs from the signal to the first event the new leader publishes: the first Kafka
 * message whose epoch header is higher than the old leader's (its timestamp is the new leader's
 * producer create time). Also printed: when a standby first reported itself leader on /health
 * (polled every 50 ms), and when this process received that first message.
 *
 * Trials alternate SIGKILL and SIGTERM. After each, the old leader (dead) is started again as a
 * standby, and the next trial starts once it is up: every trial begins with one leader and two
 * standbys, and no replica is starting while one is measured.
 *
 *   node -r @swc-node/register bench/failover.ts
 *
 * Env: BENCH_FAILOVER_TRIALS (default 10 of each signal), BENCH_FAILOVER_RATE (100 writes/s),
 * BENCH_LEASE_TTL_MS (3000); MONGO_URL / KAFKA_BROKERS / REDIS_URL(S) for real servers.
 */
import 'reflect-metadata';
import { MongoClient } from 'mongodb';
import { ORDERS_TOPIC } from '../src/config/change-stream.config';
import type { Replica } from '../test/support/replicas';
import { waitFor } from '../test/support/wait';
import { startServers, type BenchServers } from './support/servers';
import { LEASE_TTL_MS, leadershipOf, logDir, replicaEnv, startReady, stopReplicas } from './support/replicas';
import { OrderWriter } from './support/orders';
import { followTopic } from './support/topic';
import { stats } from './support/stats';
import { ms, perSecond, runAlone, say, since, type Log, type PartResult } from './support/report';

export interface FailoverOptions {
  trials?: number;
  rate?: number;
  log?: Log;
}

interface Trial {
  signal: 'SIGKILL' | 'SIGTERM';
  oldEpoch: number;
  newEpoch: number;
  /** From the signal to: the new leader's first message (create time), its receipt here, /health saying leader. */
  publishedMs: number;
  seenMs: number;
  acquiredMs: number;
}

const REPLICAS = 3;
const isUp = (leadership: string | undefined) => leadership === 'leader' || leadership === 'standby';

export async function measureFailover(options: FailoverOptions = {}): Promise<PartResult> {
  const trials = options.trials ?? Number(process.env.BENCH_FAILOVER_TRIALS ?? 10);
  const rate = options.rate ?? Number(process.env.BENCH_FAILOVER_RATE ?? 100);
  const log = options.log ?? say;
  const started = performance.now();
  const servers = await startServers();
  const replicas: Replica[] = [];
  const client = new MongoClient(servers.mongoUrl);
  let writer: OrderWriter | undefined;
  let follower: { stop(): Promise<void> } | undefined;
  try {
    const dir = logDir('failover');
    log(`failover: starting ${REPLICAS} relay replicas (lease TTL ${LEASE_TTL_MS} ms); logs in ${dir}`);
    let started_ = 0;
    const start = () =>
      startReady(`relay-${++started_}`, replicaEnv(servers, 'relay'), dir, (h) =>
        isUp(h.details?.changeStream?.leadership),
      );
    replicas.push(...(await Promise.all(Array.from({ length: REPLICAS }, start))));

    // The first message of each epoch: its create time and when it arrived here.
    const firstOfEpoch = new Map<number, { createdAt: number; seenAt: number }>();
    follower = await followTopic(servers.kafkaBrokers, ORDERS_TOPIC.name, (m) => {
      const known = firstOfEpoch.get(m.epoch);
      if (!known || m.createdAt < known.createdAt)
        firstOfEpoch.set(m.epoch, { createdAt: m.createdAt, seenAt: known?.seenAt ?? m.seenAt });
    });
    await client.connect();
    writer = new OrderWriter(OrderWriter.collection(client), rate).start();
    const first = await currentLeader(replicas);
    await waitFor(() => firstOfEpoch.has(first.epoch), {
      timeoutMs: 30_000,
      what: 'the first events of the first leader on the topic',
    });

    const results: Trial[] = [];
    for (let i = 0; i < trials * 2; i++) {
      const signal = i % 2 === 0 ? 'SIGKILL' : 'SIGTERM';
      const trial = await runTrial(signal, replicas, firstOfEpoch);
      results.push(trial);
      log(
        `failover ${String(i + 1).padStart(2)}/${trials * 2} ${signal.padEnd(7)} epoch ${trial.oldEpoch} -> ${trial.newEpoch}: ` +
          `first event published after ${ms(trial.publishedMs)} (seen here ${ms(trial.seenMs)}, leader on /health ${ms(trial.acquiredMs)})`,
      );
      // The old leader is gone: start it again as a standby before the next trial.
      const dead = replicas.findIndex((r) => !r.alive);
      if (dead >= 0) replicas.splice(dead, 1);
      replicas.push(await start());
    }
    const writes = { count: writer.count, failed: writer.failed, rate: writer.achievedRate() };
    await writer.stop();
    return report(results, trials, rate, writes, servers, since(started));
  } finally {
    await writer?.stop();
    await follower?.stop().catch(() => undefined);
    await stopReplicas(replicas, 5_000);
    await client.close().catch(() => undefined);
    await servers.stop();
  }
}

async function currentLeader(replicas: Replica[]): Promise<{ replica: Replica; epoch: number }> {
  return waitFor(
    async () => {
      for (const replica of replicas.filter((r) => r.alive)) {
        const state = await leadershipOf(replica);
        if (state?.leadership === 'leader') return { replica, epoch: state.epoch };
      }
      return null;
    },
    { timeoutMs: 30_000, intervalMs: 50, what: 'a leader' },
  );
}

async function runTrial(
  signal: Trial['signal'],
  replicas: Replica[],
  firstOfEpoch: Map<number, { createdAt: number; seenAt: number }>,
): Promise<Trial> {
  const old = await currentLeader(replicas);
  // NOTE: the old leader must have published in its term, so "a higher epoch" is the next term's.
  await waitFor(() => firstOfEpoch.has(old.epoch), {
    timeoutMs: 30_000,
    what: `events of epoch ${old.epoch}`,
  });
  const standbys = replicas.filter((r) => r !== old.replica);
  const signalledAt = Date.now();
  old.replica.signal(signal);

  let acquiredAt = 0;
  const newer = () => [...firstOfEpoch.keys()].filter((epoch) => epoch > old.epoch);
  await waitFor(
    async () => {
      if (!acquiredAt) {
        const states = await Promise.all(standbys.map((r) => leadershipOf(r)));
        if (states.some((s) => s?.leadership === 'leader' && s.epoch > old.epoch)) acquiredAt = Date.now();
      }
      return acquiredAt > 0 && newer().length > 0;
    },
    { timeoutMs: 60_000, intervalMs: 50, what: `a new leader publishing after ${signal}` },
  );
  const newEpoch = Math.min(...newer());
  const first = firstOfEpoch.get(newEpoch)!;
  await old.replica.exit;
  return {
    signal,
    oldEpoch: old.epoch,
    newEpoch,
    publishedMs: first.createdAt - signalledAt,
    seenMs: first.seenAt - signalledAt,
    acquiredMs: acquiredAt - signalledAt,
  };
}

function report(
  results: Trial[],
  trials: number,
  rate: number,
  writes: { count: number; failed: number; rate: number },
  servers: BenchServers,
  seconds: number,
): PartResult {
  const of = (signal: Trial['signal']) => results.filter((t) => t.signal === signal);
  const kill = stats(of('SIGKILL').map((t) => t.publishedMs));
  const term = stats(of('SIGTERM').map((t) => t.publishedMs));
  const killTarget = LEASE_TTL_MS + 1_000;
  const line = (signal: Trial['signal'], pick: (t: Trial) => number) => {
    const s = stats(of(signal).map(pick));
    return `median ${ms(s.median)}, max ${ms(s.max)} (min ${ms(s.min)})`;
  };
  const gap = (signal: Trial['signal']) => stats(of(signal).map((t) => t.publishedMs - t.acquiredMs));
  const acquired = (signal: Trial['signal']) => stats(of(signal).map((t) => t.acquiredMs));
  const notes = [
    `From leadership to the first event: the new leader took its epoch, connected a Kafka producer, opened the change ` +
      `stream at the checkpoint and sent its first batch in a median ${ms(gap('SIGKILL').median)} after SIGKILL ` +
      `(max ${ms(gap('SIGKILL').max)}) and ${ms(gap('SIGTERM').median)} after SIGTERM (max ${ms(gap('SIGTERM').max)}); ` +
      `leadership itself came after a median ${ms(acquired('SIGKILL').median)} (SIGKILL: the lease must expire) and ` +
      `${ms(acquired('SIGTERM').median)} (SIGTERM: the old leader drains and releases, a standby takes it at its next retry).`,
  ];
  return {
    title: 'Failover (signal -> first event published by the new leader)',
    checks: [
      {
        name: `after SIGKILL, median of ${kill.count}`,
        value: ms(kill.median),
        target: `<= ${ms(killTarget)} (TTL + 1 s)`,
        pass: kill.median <= killTarget,
      },
      {
        name: `after SIGKILL, max of ${kill.count}`,
        value: ms(kill.max),
        target: `<= ${ms(killTarget)} (TTL + 1 s)`,
        pass: kill.max <= killTarget,
      },
      {
        name: `after SIGTERM, median of ${term.count}`,
        value: ms(term.median),
        target: '<= 1000 ms',
        pass: term.median <= 1_000,
      },
      {
        name: `after SIGTERM, max of ${term.count}`,
        value: ms(term.max),
        target: '<= 1000 ms',
        pass: term.max <= 1_000,
      },
    ],
    figures: [
      ['SIGKILL: first event published', line('SIGKILL', (t) => t.publishedMs)],
      ['SIGKILL: new leader on /health', line('SIGKILL', (t) => t.acquiredMs)],
      ['SIGKILL: first event received by a consumer', line('SIGKILL', (t) => t.seenMs)],
      ['SIGTERM: first event published', line('SIGTERM', (t) => t.publishedMs)],
      ['SIGTERM: new leader on /health', line('SIGTERM', (t) => t.acquiredMs)],
      ['SIGTERM: first event received by a consumer', line('SIGTERM', (t) => t.seenMs)],
      [
        'all trials, published (ms)',
        results.map((t) => `${t.signal === 'SIGKILL' ? 'K' : 'T'} ${Math.round(t.publishedMs)}`).join(', '),
      ],
      ['writes during the trials', `${writes.count} at ${perSecond(writes.rate)} (${writes.failed} failed)`],
    ],
    conditions: [
      `${REPLICAS} relay replicas (separate processes), ${trials} trials per signal, alternating`,
      `lease TTL ${LEASE_TTL_MS} ms (LEASE_TTL_MS), renewal every TTL/3, standby retry 300 ms + up to 200 ms jitter`,
      `lease store: Redlock over ${servers.redisUrls.length} Redis`,
      `orders written at ${perSecond(rate)} throughout`,
      'published = the Kafka create time of the first message with a higher epoch header, minus the signal time (same clock)',
    ],
    notes,
    seconds,
  };
}

if (require.main === module) runAlone(() => measureFailover());
