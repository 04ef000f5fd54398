/**
 * Shared pieces of the benchmark parts (bench/report.ts runs them all):
 *
 * - the servers, through the dev servers' bootstrapper (tools/dev-servers): the MongoDB stand-in in
 *   its own process (as a real mongod would be, so its work does not share the measuring process's
 *   event loop), one Apache Kafka broker started here (so a part can kill and restart it) and a
 *   redis-server; or the servers named by MONGO_URL / KAFKA_BROKERS / REDIS_URL(S);
 * - replicas of the example orders service (test/support/replicas.ts) with the environment they need;
 * - a writer of orders at a fixed rate through the MongoDB driver;
 * - statistics, RSS reading and the figure types the report prints.
 *
 * Benchmarks print figures and assert nothing.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createWriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { transformFileSync } from '@swc/core';
import { Decimal128, MongoClient, ObjectId, type Collection } from 'mongodb';
import { calculateObjectSize } from 'bson';
import { Kafka, type Consumer } from 'kafkajs';
import { ORDERS_TOPIC } from '../src/config/change-stream.config';
import { SHOP_DB } from '../src/orders/order.schema';
import type { KafkaCluster } from '../test/kafka-broker/cluster';
import { kafkaJars } from '../test/kafka-broker/jars';
import { TEST_CONSUMER_SETTINGS, TEST_KAFKA_SETTINGS } from '../test/kafka-broker/clients';
import { Replica, startReplica } from '../test/support/replicas';
import { exitOnSignals, spawnChild, track } from '../tools/dev-servers/child-processes';
import { startMongoProcess } from '../tools/dev-servers/mongo-process';
import { freePort } from '../tools/dev-servers/ports';
import { startDevServers } from '../tools/dev-servers/servers';
import { waitFor } from '../test/support/wait';

const ROOT = resolve(__dirname, '..');

/** The relay lease TTL the failover part (and every replica the parts start) uses. */
export const LEASE_TTL_MS = Number(process.env.BENCH_LEASE_TTL_MS ?? 3_000);

/** Metric series of the example service. */
export const PUBLISHED = 'change_stream_events_published_total{stream="shop.orders"}';
export const HANDLED = 'change_stream_consumer_messages_total{group="orders-read-models"}';
export const SHARED_FALLBACKS = 'change_stream_consumer_shared_fallbacks_total{group="orders-read-models"}';

/** What the parts print on their own and the report collects. */
export type Log = (line: string) => void;
export const say: Log = (line) => process.stdout.write(`${line}\n`);
export const quiet: Log = () => undefined;

/** The servers one part runs against. */
export interface BenchServers {
  mongoUrl: string;
  kafkaBrokers: string[];
  redisUrls: string[];
  /** The Kafka broker when it runs here (undefined against KAFKA_BROKERS): kill, restart. */
  kafka?: KafkaCluster;
  /** The MongoDB stand-in's process id (undefined against a real server). */
  mongoPid?: number;
  /** True where the environment named a real server. */
  real: { mongo: boolean; kafka: boolean; redis: boolean };
  stop(): Promise<void>;
}

/** Which servers a run uses, for the report's conditions. */
export function serverKinds(): { mongo: string; kafka: string; redis: string } {
  return {
    mongo: process.env.MONGO_URL ? 'real server (MONGO_URL)' : 'stand-in, own process',
    kafka: process.env.KAFKA_BROKERS
      ? 'real cluster (KAFKA_BROKERS)'
      : `Apache Kafka ${kafkaJars().version}, 1 broker (a JVM on this machine, 512 MB heap)`,
    redis:
      process.env.REDIS_URLS || process.env.REDIS_URL
        ? 'real server (REDIS_URL)'
        : 'redis-server, 1 instance',
  };
}

/** Starts (or names) the servers of one part. `oplogMaxEntries` applies to the MongoDB stand-in. */
export async function startServers(options: { oplogMaxEntries?: number } = {}): Promise<BenchServers> {
  // NOTE: the stand-in in a process of its own, so its work does not share this process's event loop.
  const servers = await startDevServers({
    mongo: { process: true, oplogMaxEntries: options.oplogMaxEntries },
    kafka: { topics: [ORDERS_TOPIC] },
    redis: 1,
  });
  return {
    mongoUrl: servers.mongoUrl,
    kafkaBrokers: servers.kafkaBrokers,
    redisUrls: servers.redisUrls,
    kafka: servers.kafka,
    mongoPid: servers.mongoPid,
    real: servers.real,
    stop: () => servers.stop().catch(() => undefined),
  };
}

/** Every child this process started: killed when it exits or is interrupted (SIGINT / SIGTERM exit 130). */
export { track, startMongoProcess };
exitOnSignals();

/** A temporary directory for the replicas' logs of one part. */
export function logDir(part: string): string {
  return mkdtempSync(join(tmpdir(), `bench-${part}-`));
}

/** The environment of a replica of the example service on `servers`. */
export function replicaEnv(
  servers: BenchServers,
  role: 'listener' | 'worker' | 'all',
  extra: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv {
  return {
    ...process.env,
    MONGO_URL: servers.mongoUrl,
    KAFKA_BROKERS: servers.kafkaBrokers.join(','),
    REDIS_URLS: servers.redisUrls.join(','),
    LEASE_TTL_MS: String(LEASE_TTL_MS),
    APP_ROLE: role,
    // NOTE: the replicas see KAFKA_BROKERS set, so they would take kafkajs's 30 s session timeout; give
    // them the 6 s the service uses with its embedded broker, so a dead worker's partitions move quickly.
    ...(servers.kafka && !process.env.KAFKA_SESSION_TIMEOUT_MS ? { KAFKA_SESSION_TIMEOUT_MS: '6000' } : {}),
    ...extra,
  };
}

/** Starts a replica and waits until its /health answers (UP or DOWN) and `ready` holds. */
export async function startReady(
  name: string,
  env: NodeJS.ProcessEnv,
  dir: string,
  ready: (h: NonNullable<Awaited<ReturnType<Replica['health']>>>) => boolean = () => true,
  options: { timeoutMs?: number; start?: typeof startReplica } = {},
): Promise<Replica> {
  const replica = await (options.start ?? startReplica)(name, env, dir);
  track(replica.child);
  const log = join(dir, `${name}.log`);
  const state = await waitFor(
    async () => {
      if (!replica.alive) return 'exited';
      const health = await replica.health();
      return health !== null && ready(health) ? 'ready' : null;
    },
    { timeoutMs: options.timeoutMs ?? 90_000, intervalMs: 100, what: `${name} to start (log: ${log})` },
  );
  if (state === 'exited') throw new Error(`${name} exited during start-up (log: ${log})`);
  return replica;
}

let compiledMain: string | undefined;

/**
 * The example service compiled to JavaScript ahead of time (as `npm start` runs it), in a temporary
 * directory: the library and `src/`, transpiled by SWC with the project's settings. Built once per
 * process; returns the path of its main.js.
 */
export function compiledService(): string {
  if (compiledMain) return compiledMain;
  const out = mkdtempSync(join(tmpdir(), 'bench-service-'));
  process.once('exit', () => rmSync(out, { recursive: true, force: true }));
  const swcrc = JSON.parse(readFileSync(join(ROOT, '.swcrc'), 'utf8'));
  const sources = (dir: string): string[] =>
    readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return sources(path);
      return /(?<!\.(spec|int-spec|e2e-spec))\.ts$/.test(entry.name) && !entry.name.endsWith('.d.ts')
        ? [path]
        : [];
    });
  for (const file of [...sources('libs/change-stream/src'), ...sources('src')]) {
    const { code } = transformFileSync(join(ROOT, file), {
      swcrc: false,
      jsc: { ...swcrc.jsc, baseUrl: ROOT },
      module: { type: 'commonjs' },
      sourceMaps: false,
    });
    const target = join(out, file.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, code);
  }
  compiledMain = join(out, 'src/main.js');
  return compiledMain;
}

/**
 * Starts the compiled service (see compiledService) like startReplica starts `src/main.ts`: for
 * figures that a TypeScript compiler in the process would distort (its memory).
 */
export async function startCompiledReplica(
  name: string,
  env: NodeJS.ProcessEnv,
  dir: string,
): Promise<Replica> {
  const main = compiledService();
  const port = await freePort();
  const log = createWriteStream(join(dir, `${name}.log`), { flags: 'a' });
  const child = spawnChild(process.execPath, [main], {
    cwd: ROOT,
    // NOTE: the build lives outside the checkout; its packages are the checkout's.
    env: { APP_ROLE: 'all', ...env, PORT: String(port), NODE_PATH: join(ROOT, 'node_modules') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  return new Replica(name, port, child);
}

/** Stops replicas gracefully (SIGTERM), SIGKILL after `graceMs` (so --cpu-prof profiles get written). */
export async function stopReplicas(replicas: Replica[], graceMs = 10_000): Promise<void> {
  await Promise.all(
    replicas.map(async (replica) => {
      const timer = setTimeout(() => replica.signal('SIGKILL'), graceMs);
      await replica.kill('SIGTERM');
      clearTimeout(timer);
    }),
  );
}

/** The leadership a replica's /health reports ('leader', 'standby', ...), or null. */
export async function leadershipOf(replica: Replica): Promise<{ leadership: string; epoch: number } | null> {
  const details = (await replica.health())?.details?.changeStream;
  if (!details) return null;
  return { leadership: details.leadership, epoch: details.streams[0]?.epoch ?? 0 };
}

/** One message of the change topic, as the benchmarks look at it. */
export interface TopicMessage {
  partition: number;
  offset: string;
  /** Canonical EJSON of the documentKey. */
  key: string;
  eventId: string;
  epoch: number;
  /** The message's timestamp: the producer's create time (the publishing leader's clock, ms). */
  createdAt: number;
  /** When this process received it (ms). */
  seenAt: number;
  /** The change event's wallTime (its commit's wall-clock time, ms), when the value carries one. */
  wallTime?: number;
}

function toTopicMessage(
  partition: number,
  message: {
    offset: string;
    key: Buffer | null;
    value: Buffer | null;
    timestamp: string;
    headers?: Record<string, unknown>;
  },
): TopicMessage {
  const wallTime = /"wallTime":\{"\$date":\{"\$numberLong":"(\d+)"\}\}/.exec(
    message.value?.toString() ?? '',
  )?.[1];
  const header = (name: string) => {
    const raw = message.headers?.[name];
    return String(Array.isArray(raw) ? raw[0] : (raw ?? ''));
  };
  return {
    partition,
    offset: message.offset,
    key: message.key?.toString() ?? '',
    eventId: header('cdc-event-id'),
    epoch: Number(header('cdc-epoch')),
    createdAt: Number(message.timestamp),
    seenAt: Date.now(),
    ...(wallTime ? { wallTime: Number(wallTime) } : {}),
  };
}

/** A client that keeps retrying (every second at most) while a broker is down, and reconnects when it is back. */
function kafkaClient(brokers: string[]): Kafka {
  return new Kafka({
    ...TEST_KAFKA_SETTINGS,
    clientId: 'bench',
    brokers,
    retry: { initialRetryTime: 100, maxRetryTime: 1_000, retries: 1_000 },
  });
}

/**
 * Follows a topic in a group of its own and hands every message to `onMessage`: new messages only,
 * or with `fromBeginning` everything the topic holds. Resolves once the consumer has joined.
 */
export async function followTopic(
  brokers: string[],
  topic: string,
  onMessage: (message: TopicMessage) => void,
  options: { fromBeginning?: boolean } = {},
): Promise<{ stop(): Promise<void> }> {
  const consumer: Consumer = kafkaClient(brokers).consumer({
    ...TEST_CONSUMER_SETTINGS,
    groupId: `bench-follow-${Date.now().toString(36)}`,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: options.fromBeginning ?? false });
  const joined = new Promise<void>((done) => consumer.on(consumer.events.GROUP_JOIN, () => done()));
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const message of batch.messages) onMessage(toTopicMessage(batch.partition, message));
    },
  });
  await joined;
  return { stop: () => consumer.disconnect() };
}

/** The resident set size of a process, bytes (VmRSS of /proc/<pid>/status); null when unreadable. */
export function rssOf(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** CPU time (user + system, seconds) of each named process so far; absent ones count 0. */
export function cpuSeconds(pids: Record<string, number | undefined>): Record<string, number> {
  const ticks = 100; // NOTE: USER_HZ, 100 on Linux
  const of = (pid: number | undefined) => {
    if (!pid) return 0;
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(fields[11]) + Number(fields[12])) / ticks;
    } catch {
      return 0;
    }
  };
  return Object.fromEntries(
    Object.entries(pids)
      .filter(([, pid]) => pid !== undefined)
      .map(([name, pid]) => [name, of(pid)]),
  );
}

/** One order of `shop.orders` as the example service writes it (src/orders/order.schema.ts). */
export interface OrderRow {
  _id: ObjectId;
  customerId: string;
  status: 'created';
  items: Array<{ sku: string; quantity: number; price: Decimal128 }>;
  total: Decimal128;
}

/** A new order, two items; `n` spreads the customers (500 of them, so stats updates rarely conflict). */
export function newOrder(n: number, customerPrefix: string): OrderRow {
  const cents = 1_000 + (n % 9_000);
  return {
    _id: new ObjectId(),
    customerId: `${customerPrefix}${n % 500}`,
    status: 'created',
    items: [
      { sku: `sku-${n % 50}`, quantity: 1, price: Decimal128.fromString((cents / 100).toFixed(2)) },
      { sku: `sku-${(n + 7) % 50}`, quantity: 2, price: Decimal128.fromString('5.00') },
    ],
    total: Decimal128.fromString(((cents + 1_000) / 100).toFixed(2)),
  };
}

/** BSON size of one order as written. */
export const ORDER_BYTES = calculateObjectSize(newOrder(0, 'bench-customer-'));

/**
 * Inserts orders into `shop.orders` at a fixed rate: every tick (5 ms) it inserts the orders due
 * since the start with one insertMany (at 1 000/s, 5 orders: each its own oplog entry and change
 * event; one request keeps the load generator's own cost small), so a late tick catches up instead
 * of drifting. At most `maxInFlight` requests are outstanding; orders that fall due while the
 * server cannot take them are dropped from the schedule (the writer keeps its pace instead of
 * bursting after a stall), so the achieved rate (reported) falls below the target.
 */
export class OrderWriter {
  readonly written: Array<{ id: ObjectId; at: number }> = [];
  private issued = 0;
  private inFlight = 0;
  private failures = 0;
  private timer?: NodeJS.Timeout;
  private startedAt = 0;
  private stoppedAt = 0;
  private idle?: () => void;

  constructor(
    private readonly orders: Collection<OrderRow>,
    readonly ratePerSecond: number,
    private readonly customerPrefix = `bench-${Date.now().toString(36)}-`,
    private readonly maxInFlight = 50,
    private readonly tickMs = 5,
  ) {}

  static collection(client: MongoClient): Collection<OrderRow> {
    return client.db(SHOP_DB).collection<OrderRow>('orders');
  }

  start(): this {
    this.startedAt = performance.now();
    this.timer = setInterval(() => this.tick(), this.tickMs);
    return this;
  }

  /** Stops issuing and resolves once every issued insert was answered. */
  async stop(): Promise<void> {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.stoppedAt = performance.now();
    }
    if (this.inFlight > 0) await new Promise<void>((done) => (this.idle = done));
  }

  /** Orders acknowledged so far. */
  get count(): number {
    return this.written.length;
  }

  /** Orders whose insert failed. */
  get failed(): number {
    return this.failures;
  }

  /** Acknowledged orders per second between start and stop (or now). */
  achievedRate(): number {
    const end = this.timer ? performance.now() : this.stoppedAt;
    return (this.written.length / (end - this.startedAt)) * 1000;
  }

  private tick(): void {
    const due = Math.floor(((performance.now() - this.startedAt) / 1000) * this.ratePerSecond);
    if (this.issued >= due) return;
    if (this.inFlight >= this.maxInFlight) {
      this.issued = due;
      return;
    }
    const batch = Array.from({ length: due - this.issued }, () =>
      newOrder(this.issued++, this.customerPrefix),
    );
    this.inFlight++;
    const request = batch.length === 1 ? this.orders.insertOne(batch[0]) : this.orders.insertMany(batch);
    request
      .then(
        () => {
          const at = Date.now();
          for (const order of batch) this.written.push({ id: order._id, at });
        },
        () => (this.failures += batch.length),
      )
      .finally(() => {
        this.inFlight--;
        if (this.inFlight === 0 && !this.timer) this.idle?.();
      });
  }
}

/** Summary statistics of a sample. */
export interface Stats {
  count: number;
  p50: number;
  p99: number;
  median: number;
  max: number;
  min: number;
  mean: number;
}

/** Nearest-rank percentile of sorted values (p in 0..100). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function stats(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    median: percentile(sorted, 50),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    min: sorted[0] ?? Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
  };
}

/** One figure of the report, with its target when it has one. */
export interface Check {
  name: string;
  /** The figure as printed (with unit). */
  value: string;
  /** The target as printed, e.g. ">= 20x"; for a reference row, what the figure compares with. */
  target: string;
  /** Undefined for a reference row: a figure printed beside others' published ones, not a target. */
  pass?: boolean;
}

/** The last column of a check's row: PASS, MISS, or blank for a reference row. */
export const verdict = (check: Check): string =>
  check.pass === undefined ? '' : check.pass ? 'PASS' : 'MISS';

/** What a part hands the report: checks, extra figures (name -> printed value), conditions and notes. */
export interface PartResult {
  title: string;
  checks: Check[];
  figures: Array<[string, string]>;
  conditions: string[];
  notes: string[];
  /** Set when the part could not run here (e.g. it must kill a broker it did not start). */
  skipped?: string;
  seconds: number;
}

export const ms = (value: number): string => `${Math.round(value)} ms`;
export const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
export const perSecond = (value: number): string => `${Math.round(value).toLocaleString('en-US')}/s`;

/** Runs a part's main when its module is run directly: prints its figures, exits 0 (1 on error). */
export function runAlone(part: () => Promise<PartResult>): void {
  part()
    .then((result) => {
      say('');
      say(formatPart(result));
      say(`Kafka: ${serverKinds().kafka}`);
      process.exit(0);
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}

/** A part as markdown: its checks in a table, then its other figures, conditions and notes. */
export function formatPart(result: PartResult): string {
  const lines = [`## ${result.title}`, ''];
  if (result.skipped) {
    lines.push(`SKIPPED: ${result.skipped}`, '');
    return lines.join('\n');
  }
  if (result.checks.length) {
    lines.push('| figure | value | target | |', '|---|---|---|---|');
    for (const c of result.checks) lines.push(`| ${c.name} | ${c.value} | ${c.target} | ${verdict(c)} |`);
    lines.push('');
  }
  if (result.figures.length) {
    for (const [name, value] of result.figures) lines.push(`- ${name}: ${value}`);
    lines.push('');
  }
  if (result.conditions.length) lines.push(`Conditions: ${result.conditions.join('; ')}.`, '');
  for (const note of result.notes) lines.push(`${note}`, '');
  lines.push(`(${result.seconds.toFixed(0)} s)`, '');
  return lines.join('\n');
}

/** Seconds since `start` (performance.now()). */
export const since = (start: number): number => (performance.now() - start) / 1000;
