/**
 * The chaos run (`npm run chaos`, and a shorter variant in the test suite): the servers (the MongoDB
 * stand-in, Apache Kafka and redis-server, started here so faults can be injected, or MONGO_URL / KAFKA_BROKERS / REDIS_URL(S)), several
 * replicas of the orders service as real processes (APP_ROLE=all), a writer of order changes
 * (inserts, status moves, deletes, some in transactions), and meanwhile faults at seeded points:
 * SIGKILL of the leader and of a worker, SIGSTOP of the leader for longer than its lease TTL,
 * MongoDB connection drops and a step-down, a SIGKILL and restart of the Kafka broker, a Redis restart. Killed
 * replicas are replaced, as a Deployment would. Once everything is quiet the read models are
 * compared with the orders collection and the writer's books: lost events and duplicate effects.
 *
 * Everything random (the writes, the fault order, positions, targets and durations) comes from the
 * seed, so a failing run can be replayed (thread timing aside).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient, type MongoClientOptions } from 'mongodb';
import { DEFAULTS } from 'nest-change-stream';
import { ORDERS_TOPIC } from '../../src/config/change-stream.config';
import type { DedupeMode, DeliveryMode } from '../../src/config/environment';
import { SHOP_DB } from '../../src/orders/order.schema';
import { eventsApplied } from '../../src/orders/read-model-audit';
import { seededRandom } from '../e2e/orders-client';
import { groundFromEnv, startGround, type Ground } from '../support/ground';
import { waitFor } from '../support/wait';
import {
  FAULT_KINDS,
  inject,
  planFaults,
  settled,
  skipReason,
  type FaultContext,
  type FaultKind,
  type FaultRecord,
  type PlannedFault,
} from './faults';
import {
  describeProbes,
  describeStall,
  LivenessProbe,
  ReplicaPool,
  type LivenessRestart,
} from './replica-pool';
import { auditTopic, describeTopic, topicEnds, type TopicAudit } from './topic-audit';
import { Backpressure, quiet, SESSION_TIMEOUT_MS } from './read-model-progress';
import { judge, type Verdict } from './verdict';
import { ChaosWriter, type WriterCounts } from './workload';

export { FAULT_KINDS, type FaultKind } from './faults';

export interface ChaosOptions {
  seed: number;
  /** Change events to write. */
  changes: number;
  /** Replicas of the orders service (APP_ROLE=all). */
  replicas: number;
  /** LEASE_TTL_MS of the replicas. */
  leaseTtlMs: number;
  /** The replicas' `relay.delivery` (RELAY_DELIVERY; default: the library's). */
  delivery?: DeliveryMode;
  /** The replicas' `worker.dedupe` (WORKER_DEDUPE; default: the library's). */
  dedupe?: DedupeMode;
  /** Which kinds of fault to inject (default: all). */
  faults?: readonly FaultKind[];
  /** How many times each kind is injected (default 1). */
  rounds?: number;
  /** Progress and timeline lines. */
  log: (line: string) => void;
  /** Where replica logs go (default: a new directory under the OS temp dir). */
  logDir?: string;
  /** Concurrent writer lanes (default 4). */
  lanes?: number;
  /**
   * The writer stays at most this many change events ahead of the read models (default 500; only
   * where the applied events can be counted, on the stand-in): every fault then meets events in
   * flight at every stage, instead of a backlog the workers work off after the writes.
   */
  maxLag?: number;
  /** How long to wait for the read models to catch up after the last write (default 300 000 ms). */
  quietTimeoutMs?: number;
  /** How long the replicas may take to settle after a fault before it counts as an anomaly (default 120 000 ms). */
  settleTimeoutMs?: number;
  /**
   * The liveness probe, as the Deployment has one: a replica whose /health/live fails this many probes
   * in a row, `livenessPeriodMs` apart, is restarted (default 6 x 5 000 ms).
   */
  livenessFailures?: number;
  livenessPeriodMs?: number;
}

export interface ChaosResult {
  seed: number;
  /** The replicas' delivery and dedupe modes (undefined: the library's defaults). */
  delivery?: DeliveryMode;
  dedupe?: DedupeMode;
  /** False when the run could not finish (`error` says why); the figures are then partial. */
  completed: boolean;
  error?: string;
  eventsWritten: number;
  /** What the writer did (absent when the run stopped before writing). */
  writes?: WriterCounts;
  faultsInjected: Record<FaultKind, number>;
  /** Kinds not injected because the server is real, with the reason. */
  faultsSkipped: Array<{ kind: FaultKind; reason: string }>;
  /** Every fault in order, with what happened. */
  timeline: FaultRecord[];
  lostEvents: number;
  duplicateEffects: number;
  /** What a read-committed consumer of the orders topic saw (absent when the run stopped before). */
  topic?: TopicAudit;
  /**
   * The longest leader failover (SIGKILL / SIGSTOP of the leader to a live replica reporting
   * leadership with a higher epoch on /health), null when none was measured.
   */
  longestFailoverMs: number | null;
  /** The longest time from a leader fault to the new leader taking its epoch (the checkpoint's `electedAt`). */
  longestTakeoverMs: number | null;
  /** Everything that differed at the end (a sample of at most 20), and how many there were. */
  mismatches: string[];
  mismatchCount: number;
  verdict?: Verdict;
  /** Things that went wrong on the way (a fault not waited out, replicas that did not settle). */
  anomalies: string[];
  /** ms from the first write to the last acknowledged one, and until the read models were checked. */
  writeMs: number;
  totalMs: number;
  replicasStarted: number;
  /** Replicas the liveness probe restarted (not faults of the plan: replicas that stayed unhealthy). */
  livenessRestarts: LivenessRestart[];
  logDir: string;
  servers: string;
}

/** Change events written after a held writer was let go, before the fault it waited for is injected. */
const WARMUP_EVENTS = 40;

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const { seed, log } = options;
  const started = Date.now();
  const elapsed = () => Date.now() - started;
  const stamp = () => `+${(elapsed() / 1000).toFixed(1)}s`;
  const logDir = options.logDir ?? mkdtempSync(join(tmpdir(), 'chaos-'));
  const kinds = options.faults ?? FAULT_KINDS;
  const random = seededRandom(seed);
  const faultRandom = seededRandom((seed ^ 0x5bd1e995) >>> 0);

  const result: ChaosResult = {
    seed,
    delivery: options.delivery,
    dedupe: options.dedupe,
    completed: false,
    eventsWritten: 0,
    faultsInjected: Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>,
    faultsSkipped: [],
    timeline: [],
    lostEvents: 0,
    duplicateEffects: 0,
    longestFailoverMs: null,
    longestTakeoverMs: null,
    mismatches: [],
    mismatchCount: 0,
    anomalies: [],
    writeMs: 0,
    totalMs: 0,
    replicasStarted: 0,
    livenessRestarts: [],
    logDir,
    servers: '',
  };

  let ground: Ground | undefined;
  let pool: ReplicaPool | undefined;
  let liveness: LivenessProbe | undefined;
  let theWriter: ChaosWriter | undefined;
  const clients: MongoClient[] = [];
  try {
    // NOTE: a broker of the run's own (its fault kills it), unless KAFKA_BROKERS names a cluster.
    ground = await startGround({
      mongo: { oplogMaxEntries: Math.max(100_000, options.changes * 20) },
      kafka: { topics: [ORDERS_TOPIC], dedicated: groundFromEnv().kafkaBrokers.length === 0 },
      redis: 1,
    });
    const kafka = ground.kafka ? `Apache Kafka ${ground.kafka.version}, started here` : 'real server';
    result.servers = [
      `MongoDB ${ground.mongoUrl} (${ground.real.mongo ? 'real server' : 'stand-in'})`,
      `Kafka ${ground.kafkaBrokers.join(',')} (${kafka})`,
      `Redis ${ground.redisUrls.join(',')} (${ground.real.redis ? 'real server' : 'started here'})`,
    ].join('; ');
    log(`servers: ${result.servers}`);

    const usable = kinds.filter((kind) => {
      const reason = skipReason(kind, ground!);
      if (reason) result.faultsSkipped.push({ kind, reason });
      return !reason;
    });
    for (const { kind, reason } of result.faultsSkipped) log(`SKIPPED fault ${kind}: ${reason}`);
    const plan = planFaults(faultRandom, usable, options.rounds ?? 1, options.changes).map(withRelease);

    // Short client timeouts: a fault costs a few seconds, and no 30 s driver timer outlives the run.
    const clientOptions: MongoClientOptions = {
      serverSelectionTimeoutMS: 5_000,
      connectTimeoutMS: 2_000,
      heartbeatFrequencyMS: 500,
    };
    const writerClient = new MongoClient(ground.mongoUrl, { ...clientOptions, appName: 'chaos-writer' });
    const auditClient = new MongoClient(ground.mongoUrl, { ...clientOptions, appName: 'chaos-audit' });
    clients.push(writerClient, auditClient);

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      APP_ROLE: 'all',
      MONGO_URL: ground.mongoUrl,
      KAFKA_BROKERS: ground.kafkaBrokers.join(','),
      REDIS_URLS: ground.redisUrls.join(','),
      REDIS_URL: '',
      LEASE_TTL_MS: String(options.leaseTtlMs),
      ...(options.delivery ? { RELAY_DELIVERY: options.delivery } : {}),
      ...(options.dedupe ? { WORKER_DEDUPE: options.dedupe } : {}),
      ...(!ground.real.kafka && !process.env.KAFKA_SESSION_TIMEOUT_MS
        ? { KAFKA_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS) }
        : {}),
    };
    pool = new ReplicaPool(env, logDir, options.replicas);
    log(`starting ${options.replicas} replicas (lease TTL ${options.leaseTtlMs} ms); logs in ${logDir}`);
    // NOTE: started together, so the first group join takes them all in one rebalance.
    await Promise.all(Array.from({ length: options.replicas }, () => pool!.add()));
    await waitFor(
      async () => {
        const probes = await pool!.probe();
        return probes.every(
          (p) =>
            p.health?.status === 'ok' &&
            (p.health.details?.changeStream?.worker?.assignedPartitions ?? 0) > 0,
        );
      },
      { timeoutMs: 120_000, intervalMs: 250, what: 'every replica UP with partitions assigned' },
    );
    const first = await waitFor(async () => (await pool!.leaders())[0], {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: 'a leader',
    });
    log(
      `${stamp()} ${describeProbes(await pool.probe())}; ${first.replica.name} leads (epoch ${first.epoch})`,
    );
    log(
      `${stamp()} plan: ${options.changes} change events, faults ${plan.map((f) => `${f.kind}@${f.at}`).join(', ')}`,
    );

    const markerSince = new Date();
    const topicStart = await topicEnds(ground.kafkaBrokers, ORDERS_TOPIC.name);
    const prefix = `chaos${seed.toString(36)}x${Date.now().toString(36)}-`;
    // The customers' eventsApplied counters of this run: how many events the read models applied.
    const applied = () => eventsApplied(auditClient.db(SHOP_DB), prefix);
    const lag = new Backpressure(applied, options.maxLag ?? 500);
    const writer = new ChaosWriter(writerClient, {
      seed: random() * 2 ** 32,
      changes: options.changes,
      lanes: options.lanes,
      prefix,
      gate: async (position) => {
        await gateOf(plan, position);
        await lag.wait(position);
      },
    });
    theWriter = writer;
    const context: FaultContext = {
      ground,
      pool,
      random: faultRandom,
      leaseTtlMs: options.leaseTtlMs,
      elapsed,
      position: () => writer.written,
      checkpoint: () =>
        auditClient
          .db(DEFAULTS.storage.database)
          .collection<{ _id: string; epoch: number; electedAt?: Date }>(DEFAULTS.storage.checkpoints)
          .findOne({ _id: `${SHOP_DB}.orders` }),
    };

    liveness = new LivenessProbe(pool, {
      periodMs: options.livenessPeriodMs ?? 5_000,
      failureThreshold: options.livenessFailures ?? 6,
      initialDelayMs: 60_000,
      elapsed,
      onRestart: (restart) =>
        log(`${stamp()} LIVENESS restarted ${restart.replica} as ${restart.replacement}: ${restart.reason}`),
    });
    liveness.start();
    const writeStart = Date.now();
    let writing = true;
    const writes = writer.run().finally(() => {
      writing = false;
      result.writeMs = Date.now() - writeStart;
    });
    const progress = setInterval(() => {
      void (async () => {
        const error = writer.lastError ? `; last write error: ${writer.lastError.slice(0, 120)}` : '';
        const done = `, ${await applied().catch(() => '?')} applied`;
        log(
          `${stamp()} written ${writer.written}/${options.changes}${done} (${writer.counts.transactions} transactions, ${writer.counts.resolvedByReading} resolved by reading back)${error}`,
        );
      })();
    }, 5_000);
    try {
      const faults = (async () => {
        for (const fault of plan) {
          fault.release();
          // A writer held at this fault's position gets going again before the fault hits.
          const target = fault.held ? fault.at + WARMUP_EVENTS : fault.at;
          await waitFor(() => writer.written >= target || !writing, {
            timeoutMs: 600_000,
            intervalMs: 20,
            what: `write position ${target}`,
          });
          let injected = false;
          const inPlace = () => {
            if (injected) return;
            injected = true;
            result.faultsInjected[fault.kind]++;
            log(`${stamp()} FAULT ${fault.kind} injected at write ${writer.written}`);
          };
          const record = await inject(fault.kind, context, inPlace).catch((error: Error): FaultRecord => ({
            kind: fault.kind,
            at: elapsed(),
            position: writer.written,
            detail: injected ? 'failed after it was injected' : 'could not be injected',
            anomaly: error.message,
          }));
          const unsettled = await settled(context, options.settleTimeoutMs ?? 120_000);
          if (unsettled) record.anomaly = [record.anomaly, unsettled].filter(Boolean).join('; ');
          result.timeline.push(record);
          log(
            `${stamp()}   ${record.kind}: ${record.detail}${record.anomaly ? ` -- ANOMALY: ${record.anomaly}` : ''}`,
          );
          if (record.anomaly) result.anomalies.push(`${record.kind}: ${record.anomaly}`);
        }
      })();
      await Promise.all([writes, faults]);
    } finally {
      clearInterval(progress);
      for (const fault of plan) fault.release();
    }
    log(
      `${stamp()} writes done: ${writer.written} change events in ${(result.writeMs / 1000).toFixed(1)} s; waiting for the read models`,
    );

    const input = {
      shop: auditClient.db(SHOP_DB),
      // NOTE: the stand-in holds this run's markers only; `offsets` dedupe writes none.
      markers:
        ground.real.mongo || options.dedupe === 'offsets'
          ? undefined
          : {
              db: auditClient.db(DEFAULTS.storage.database),
              collection: DEFAULTS.storage.processed,
              since: markerSince,
            },
      customerPrefix: writer.customerPrefix,
      eventsWritten: writer.written,
      transitions: writer.transitions,
      orders: writer.orders,
      deleted: writer.deleted,
    };
    const verdict = await quiet({
      check: () => judge(input),
      applied,
      written: writer.written,
      timeoutMs: options.quietTimeoutMs ?? 300_000,
      leaseTtlMs: options.leaseTtlMs,
      log,
    });
    if (!verdict.clean) {
      result.anomalies.push(verdict.why);
      // What each replica's relay and worker reported when the read models stopped moving.
      for (const line of describeStall(await pool.probe())) log(line);
    }
    result.topic = await auditTopic(ground.kafkaBrokers, ORDERS_TOPIC.name, topicStart);
    log(`${stamp()} topic: ${describeTopic(result.topic, writer.written)}`);
    Object.assign(result, {
      verdict: verdict.verdict,
      lostEvents: verdict.verdict.lostEvents,
      duplicateEffects: verdict.verdict.duplicateEffects,
      mismatches: verdict.verdict.mismatches.slice(0, 20),
      mismatchCount: verdict.verdict.mismatches.length,
      completed: true,
    });
    const failovers = result.timeline.filter((f) => f.failoverMs !== undefined).map((f) => f.failoverMs!);
    result.longestFailoverMs = failovers.length ? Math.max(...failovers) : null;
    const takeovers = result.timeline.filter((f) => f.takeoverMs !== undefined).map((f) => f.takeoverMs!);
    result.longestTakeoverMs = takeovers.length ? Math.max(...takeovers) : null;
    const missing = usable.filter((kind) => result.faultsInjected[kind] === 0);
    if (missing.length) result.anomalies.push(`never injected: ${missing.join(', ')}`);
  } catch (error) {
    result.error = (error as Error).message;
    log(`${stamp()} the run could not finish: ${result.error}`);
  } finally {
    liveness?.stop();
    result.livenessRestarts = liveness?.restarts ?? [];
    result.writes = theWriter?.counts;
    result.eventsWritten = theWriter?.written ?? 0;
    result.replicasStarted = pool?.startedCount ?? 0;
    await pool?.stopAll();
    for (const client of clients) await client.close().catch(() => undefined);
    await ground?.stop().catch(() => undefined);
    result.totalMs = elapsed();
  }
  return result;
}

/**
 * A planned fault of this run. Its gate opens (`release()`) once the fault before it was waited out;
 * until then the writer does not pass its position (`held` says it had to wait), so every fault meets
 * writes in flight and none is pushed past the end of the writes.
 */
type RunFault = PlannedFault & { open: Promise<void>; release: () => void; released: boolean; held: boolean };

function withRelease(fault: PlannedFault): RunFault {
  const run = { ...fault, released: false, held: false } as RunFault;
  run.open = new Promise<void>((resolve) => {
    run.release = () => {
      run.released = true;
      resolve();
    };
  });
  return run;
}

/** Holds an operation starting at `position` until the gates of the faults planned at or before it are open. */
async function gateOf(plan: RunFault[], position: number): Promise<void> {
  for (const fault of plan) {
    if (fault.at > position) break;
    if (fault.released) continue;
    fault.held = true;
    await fault.open;
  }
}
