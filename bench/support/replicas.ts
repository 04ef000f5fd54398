/**
 * Replicas of the example orders service (test/support/replicas.ts) as the benchmark parts run them:
 * the environment they need, start-up until healthy, an ahead-of-time compiled build for memory figures,
 * a graceful stop, and the metric series the parts read from them.
 */
import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { transformFileSync } from '@swc/core';
import { Replica, startReplica } from '../../test/support/replicas';
import { waitFor } from '../../test/support/wait';
import { spawnChild } from '../../tools/launch/child-processes';
import { freePort } from '../../tools/launch/ports';
import { track, type BenchServers } from './servers';

const ROOT = resolve(__dirname, '../..');

/** The relay lease TTL the failover part (and every replica the parts start) uses. */
export const LEASE_TTL_MS = Number(process.env.BENCH_LEASE_TTL_MS ?? 3_000);

/** Metric series of the example service. */
export const PUBLISHED = 'change_stream_events_published_total{stream="shop.orders"}';
export const HANDLED = 'change_stream_worker_messages_total{group="orders-read-models"}';
export const SHARED_FALLBACKS = 'change_stream_worker_shared_fallbacks_total{group="orders-read-models"}';

/** A temporary directory for the replicas' logs of one part. */
export function logDir(part: string): string {
  return mkdtempSync(join(tmpdir(), `bench-${part}-`));
}

/** The environment of a replica of the example service on `servers`. */
export function replicaEnv(
  servers: BenchServers,
  role: 'relay' | 'worker' | 'all',
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
