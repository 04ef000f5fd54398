/**
 * One worker replica of the example service alone: how many order events per second it applies
 * (exactly-once transaction: marker insertMany, or with `--dedupe=offsets` one applied-offset upsert,
 * then the read-models batch handler's views find, views bulkWrite and stats bulkWrite, then the
 * commit), and what
 * each event costs in CPU, in the worker process and in the MongoDB stand-in (its own process).
 *
 * The orders topic is pre-filled with `--events` insert events of new orders (as the relay would
 * publish them) before the worker starts; optionally `--preload` markers and views are inserted
 * first, so the collections have the size a longer run would give them. The window measured runs
 * from 10% to 90% of the events applied (start-up and tail left out); after it every event must be
 * applied (the customers' eventsApplied counters and the views counted).
 *
 *   node -r @swc-node/register bench/worker.ts [--events=4000] [--preload=20000] [--batch-size=N] [--dedupe=markers|offsets] [--profile]
 *
 * Without `--batch-size` or `--profile` it runs twice on fresh servers, first with one transaction per
 * message (WORKER_BATCH_SIZE=1, the baseline), then with shared transactions (the default), and
 * prints the ratio of the two rates.
 *
 * `--profile` samples the CPU of the worker and of the MongoDB stand-in during the window
 * (bench/cpu-profile.preload.js) and prints the top self-time functions and areas of each; the
 * profiler's own cost inflates the CPU figures of that run. `--keep-profiles` keeps the
 * .cpuprofile files (their directory is printed). Prints figures; asserts nothing.
 */
import 'reflect-metadata';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { DEFAULTS } from 'nest-change-stream';
import { changeEvents } from 'nest-change-stream/testing';
import { ORDERS_TOPIC } from '../src/config/change-stream.config';
import type { DedupeMode } from '../src/config/environment';
import { SHOP_DB } from '../src/orders/order.schema';
import { eventsApplied } from '../src/orders/read-model-audit';
import { changeEventProducer, testKafka } from '../test/worker/fixtures/kafka-tools';
import type { Replica } from '../test/support/replicas';
import { waitFor } from '../test/support/wait';
import { startServers } from './support/servers';
import { logDir, replicaEnv, startReady, stopReplicas } from './support/replicas';
import { newOrder } from './support/orders';
import { cpuSeconds } from './support/stats';
import { formatSummary, summarise, type CpuProfile } from './support/cpu-profile';
import { perSecond, runAlone, say, since, type Log, type PartResult } from './support/report';
import { numberFlag } from './support/worker-scenarios';

export interface WorkerBenchOptions {
  events?: number;
  /** WORKER_BATCH_SIZE of the worker (messages per shared transaction); undefined: the library default. */
  batchSize?: number;
  /** WORKER_DEDUPE of the worker; undefined: the library default (markers). */
  dedupe?: DedupeMode;
  preload?: number;
  profile?: boolean;
  keepProfiles?: boolean;
  log?: Log;
}

const PRELOAD = join(__dirname, 'cpu-profile.preload.js');
const HANDLER_ERRORS =
  'change_stream_handler_invocations_total{handler="orders.read-models",outcome="error"}';
const MARKERS = { db: DEFAULTS.storage.database, collection: DEFAULTS.storage.processed };
const SEND_CHUNK = 500;

export async function measureWorker(
  options: WorkerBenchOptions = {},
): Promise<PartResult & { rate: number }> {
  const events = options.events ?? numberFlag('events', 4_000);
  const preload = options.preload ?? numberFlag('preload', 20_000);
  const profile = options.profile ?? process.argv.includes('--profile');
  const keepProfiles = options.keepProfiles ?? process.argv.includes('--keep-profiles');
  const log = options.log ?? say;
  const started = performance.now();
  const dir = logDir('worker');
  const profileEnv = (name: string) =>
    profile
      ? {
          NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${PRELOAD}`.trim(),
          BENCH_CPU_PROFILE_DIR: dir,
          BENCH_CPU_PROFILE_NAME: name,
        }
      : {};

  // NOTE: the MongoDB stand-in is spawned with this process's environment: the profiler hook goes there.
  const saved = { ...process.env };
  Object.assign(process.env, profileEnv('mongo'));
  const servers = await startServers({ oplogMaxEntries: 1_000_000 }).finally(() => {
    for (const key of ['NODE_OPTIONS', 'BENCH_CPU_PROFILE_DIR', 'BENCH_CPU_PROFILE_NAME'])
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
  });
  const client = new MongoClient(servers.mongoUrl);
  const replicas: Replica[] = [];
  try {
    await client.connect();
    if (preload > 0) {
      log(`worker: preloading ${preload} markers and order views`);
      await preloadCollections(client, preload);
    }
    log(`worker: producing ${events} order insert events to ${ORDERS_TOPIC.name}; logs in ${dir}`);
    const producer = await changeEventProducer(testKafka(servers.kafkaBrokers, 'bench-worker'));
    const customers = `bench-${Date.now().toString(36)}-`;
    try {
      const all = Array.from({ length: events }, (_, n) =>
        changeEvents.insert('orders', newOrder(n, customers), { db: SHOP_DB }),
      );
      for (let i = 0; i < all.length; i += SEND_CHUNK)
        await producer.send(ORDERS_TOPIC.name, all.slice(i, i + SEND_CHUNK));
    } finally {
      await producer.disconnect();
    }

    const batchEnv = options.batchSize === undefined ? {} : { WORKER_BATCH_SIZE: String(options.batchSize) };
    const dedupeEnv = options.dedupe === undefined ? {} : { WORKER_DEDUPE: options.dedupe };
    const worker = await startReady(
      'worker',
      replicaEnv(servers, 'worker', { ...batchEnv, ...dedupeEnv, ...profileEnv('worker') }),
      dir,
      (h) => (h.details?.changeStream?.worker?.assignedPartitions ?? 0) > 0,
    );
    replicas.push(worker);
    const pids = { worker: worker.pid, mongo: servers.mongoPid };
    // NOTE: the customers' eventsApplied counters (500 small documents) rather than the worker's
    // /metrics, whose scrape costs the worker CPU; markers would not count in `offsets` mode.
    const markerCollection = client.db(MARKERS.db).collection(MARKERS.collection);
    const handled = () => eventsApplied(client.db(SHOP_DB), customers);

    const from = Math.ceil(events * 0.1);
    const to = Math.floor(events * 0.9);
    const timeoutMs = 900_000;
    const h0 = await waitFor(async () => ((await handled()) >= from ? handled() : null), {
      what: `${from} events applied`,
      timeoutMs,
      intervalMs: 100,
    });
    const t0 = performance.now();
    const cpu0 = cpuSeconds(pids);
    const split0 = { worker: cpuSplit(pids.worker), mongo: cpuSplit(pids.mongo) };
    if (profile) signalProfilers(pids);
    log(`worker: window opened at ${h0} events applied`);
    const h1 = await waitFor(async () => ((await handled()) >= to ? handled() : null), {
      what: `${to} events applied`,
      timeoutMs,
      intervalMs: 100,
    });
    const windowSeconds = since(t0);
    const cpu1 = cpuSeconds(pids);
    const split1 = { worker: cpuSplit(pids.worker), mongo: cpuSplit(pids.mongo) };
    const systemShare = (name: 'worker' | 'mongo') => {
      const user = split1[name].user - split0[name].user;
      const system = split1[name].system - split0[name].system;
      return user + system > 0 ? `${((system / (user + system)) * 100).toFixed(0)}%` : 'n/a';
    };
    if (profile) signalProfilers(pids);
    const applied = h1 - h0;
    const rate = applied / windowSeconds;
    const perEvent = (name: 'worker' | 'mongo') =>
      pids[name] === undefined ? NaN : ((cpu1[name] - cpu0[name]) * 1e6) / applied;
    log(
      `worker: ${applied} events in ${windowSeconds.toFixed(1)} s = ${perSecond(rate)}; ` +
        `CPU per event: worker ${perEvent('worker').toFixed(0)} us, MongoDB stand-in ${perEvent('mongo').toFixed(0)} us`,
    );

    await waitFor(async () => (await handled()) >= events, {
      what: `all ${events} events applied`,
      timeoutMs,
      intervalMs: 250,
    });
    const [markers, counted, views, errors] = await Promise.all([
      markerCollection.estimatedDocumentCount(),
      handled(),
      client.db(SHOP_DB).collection('order_views').estimatedDocumentCount(),
      worker.metric(HANDLER_ERRORS),
    ]);

    const figures: Array<[string, string]> = [
      ['events applied per second (one worker, 4 partitions)', perSecond(rate)],
      [
        'CPU per event: worker process / MongoDB stand-in',
        `${perEvent('worker').toFixed(0)} us / ${perEvent('mongo').toFixed(0)} us`,
      ],
      [
        'CPU during the window (% of one core): worker / MongoDB stand-in',
        `${(((cpu1.worker - cpu0.worker) / windowSeconds) * 100).toFixed(0)}% / ` +
          `${pids.mongo ? (((cpu1.mongo - cpu0.mongo) / windowSeconds) * 100).toFixed(0) : 'n/a'}%`,
      ],
      [
        'every event applied once',
        `${counted} counted applied, ${views - preload} new views, ${markers - preload} new markers for ${events} events` +
          (counted === events && views - preload === events ? ' (ok)' : ' (MISMATCH)'),
      ],
      [
        'share of that CPU in the kernel (system time): worker / MongoDB stand-in',
        `${systemShare('worker')} / ${systemShare('mongo')}`,
      ],
      ['failed handler attempts (retried)', String(errors)],
    ];
    const notes: string[] = [];
    if (profile) {
      await stopReplicas(replicas, 10_000);
      replicas.length = 0;
      for (const name of ['worker', 'mongo'] as const) {
        const file = join(dir, `${name}.cpuprofile`);
        const ready = await waitFor(() => existsSync(file), {
          what: `${file}`,
          timeoutMs: 10_000,
          intervalMs: 100,
        }).then(
          () => true,
          () => false,
        );
        if (!ready) {
          notes.push(`no CPU profile of the ${name} (${file})`);
          continue;
        }
        const summary = summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, applied);
        notes.push(formatSummary(name, summary));
      }
      if (keepProfiles) notes.push(`profiles kept in ${dir}`);
    }
    if (!keepProfiles) process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return {
      rate,
      title: 'Worker throughput (example orders handler, exactly-once transaction)',
      checks: [],
      figures,
      conditions: [
        `${events} insert events of new orders on ${ORDERS_TOPIC.partitions} partitions, pre-filled before the worker starts`,
        `${preload} markers and views preloaded`,
        'window: from 10% to 90% of the events applied',
        `worker.batchSize ${options.batchSize ?? 'default (100)'}`,
        `worker.dedupe ${options.dedupe ?? 'default (markers)'}`,
        profile ? 'CPU profiler on (inflates the CPU figures)' : 'no profiler',
        'MongoDB stand-in in its own process',
      ],
      notes,
      seconds: since(started),
    };
  } finally {
    await stopReplicas(replicas, 5_000);
    await client.close().catch(() => undefined);
    await servers.stop();
  }
}

/** Markers and views of orders that are not in the topic: the size a longer run leaves behind. */
async function preloadCollections(client: MongoClient, count: number): Promise<void> {
  const markers = client.db(MARKERS.db).collection(MARKERS.collection);
  const views = client.db(SHOP_DB).collection('order_views');
  const chunk = 1_000;
  for (let i = 0; i < count; i += chunk) {
    const n = Math.min(chunk, count - i);
    const orders = Array.from({ length: n }, (_, k) => newOrder(i + k, 'preload-'));
    const now = new Date();
    await markers.insertMany(
      orders.map((o, k) => ({
        handlerId: 'orders.read-models',
        eventId: `preload-${i + k}`,
        topic: ORDERS_TOPIC.name,
        partition: 0,
        offset: String(i + k),
        processedAt: now,
      })),
    );
    await views.insertMany(
      orders.map((o) => ({
        _id: o._id,
        customerId: o.customerId,
        status: o.status,
        itemCount: o.items.length,
        total: o.total,
        changedAt: now,
        appliedAt: now,
      })),
    );
  }
}

/** User and system CPU seconds of a process so far (0 when unreadable). */
function cpuSplit(pid: number | undefined): { user: number; system: number } {
  if (!pid) return { user: 0, system: 0 };
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
  } catch {
    return { user: 0, system: 0 };
  }
}

function signalProfilers(pids: Record<string, number | undefined>): void {
  for (const pid of Object.values(pids)) if (pid) process.kill(pid, 'SIGWINCH');
}

/**
 * The worker with one transaction per message (batchSize 1, the baseline) and with shared
 * transactions (the default), one after the other on fresh servers, and the ratio of their rates.
 */
export async function compareBatching(options: WorkerBenchOptions = {}): Promise<PartResult> {
  const started = performance.now();
  const baseline = await measureWorker({ ...options, batchSize: 1 });
  const shared = await measureWorker({ ...options, batchSize: options.batchSize });
  return {
    title: 'Worker throughput (example orders handler): one transaction per message vs shared transactions',
    checks: [],
    figures: [
      [
        'shared / one per message (events applied per second)',
        `${(shared.rate / baseline.rate).toFixed(2)}x`,
      ],
      ...baseline.figures.map(([name, value]): [string, string] => [`one per message: ${name}`, value]),
      ...shared.figures.map(([name, value]): [string, string] => [`shared: ${name}`, value]),
    ],
    conditions: shared.conditions.filter((c) => !c.startsWith('worker.batchSize')),
    notes: [...baseline.notes, ...shared.notes],
    seconds: since(started),
  };
}

// NOTE: `--batch-size=N` or `--profile` measure one configuration; otherwise both, compared.
if (require.main === module) {
  const single = process.argv.some((a) => a.startsWith('--batch-size=') || a === '--profile');
  const batchSize = process.argv.some((a) => a.startsWith('--batch-size='))
    ? numberFlag('batch-size', 100)
    : undefined;
  runAlone(() => (single ? measureWorker({ batchSize }) : compareBatching()));
}
