/**
 * Real processes of the example orders service (`src/main.ts`), as the demo, the chaos run and the
 * benchmarks start them: one child per replica, its output in a log file, and small readers of its
 * `/health` and `/metrics`.
 */
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnChild } from './child-processes';
import { freePort } from './ports';

const ROOT = resolve(__dirname, '../..');

/** The parts of GET /health these tools read. */
export interface ReplicaHealth {
  status: string;
  details?: {
    changeStream?: {
      instanceId: string;
      leadership: string;
      streams: Array<{ epoch: number | null; role: string; eventsPublished?: number }>;
      worker: { state: string; assignedPartitions: number } | null;
    };
  };
}

/** One running replica of the orders service. */
export class Replica {
  readonly url: string;
  private readonly exited: Promise<void>;
  alive = true;

  constructor(
    readonly name: string,
    readonly port: number,
    readonly child: ChildProcess,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.exited = new Promise((done) => child.once('exit', () => ((this.alive = false), done())));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** GET /health, or null when the replica does not answer within a second. */
  async health(): Promise<ReplicaHealth | null> {
    try {
      const response = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(1_000) });
      return (await response.json()) as ReplicaHealth;
    } catch {
      return null;
    }
  }

  /** GET /health/live (the Deployment's liveness probe): the status it answered, null when it did not answer. */
  async liveness(): Promise<number | null> {
    try {
      return (await fetch(`${this.url}/health/live`, { signal: AbortSignal.timeout(1_000) })).status;
    } catch {
      return null;
    }
  }

  /** One series of GET /metrics (0 when absent or unreachable). */
  async metric(series: string): Promise<number> {
    try {
      const text = await (await fetch(`${this.url}/metrics`, { signal: AbortSignal.timeout(1_000) })).text();
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line ? Number(line.slice(series.length + 1)) : 0;
    } catch {
      return 0;
    }
  }

  /** Sends `signal` (when still running); resolves once the process exited. */
  kill(signal: NodeJS.Signals): Promise<void> {
    if (this.alive) this.child.kill(signal);
    return this.exited;
  }

  /** Sends `signal` without waiting for an exit (SIGSTOP, SIGCONT). */
  signal(signal: NodeJS.Signals): void {
    if (this.alive) this.child.kill(signal);
  }

  /** Resolves when the process exited. */
  get exit(): Promise<void> {
    return this.exited;
  }
}

/** Starts `src/main.ts` with `env` (plus PORT, and APP_ROLE=all unless given); output goes to `<logDir>/<name>.log`. */
export async function startReplica(name: string, env: NodeJS.ProcessEnv, logDir: string): Promise<Replica> {
  const port = await freePort();
  const log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
  const child = spawnChild(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'src/main.ts')], {
    cwd: ROOT,
    env: { APP_ROLE: 'all', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  return new Replica(name, port, child);
}

/** The live replica that reports itself leader, with its epoch; null when none does. */
export async function leaderOf(replicas: Replica[]): Promise<{ replica: Replica; epoch: number } | null> {
  for (const replica of replicas.filter((r) => r.alive)) {
    const details = (await replica.health())?.details?.changeStream;
    if (details?.leadership === 'leader') return { replica, epoch: details.streams[0]?.epoch ?? 0 };
  }
  return null;
}
