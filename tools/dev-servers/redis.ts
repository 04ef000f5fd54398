import { spawnSync, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { spawnChild } from '../launch/child-processes';
import { freePort } from '../launch/ports';

/** One real `redis-server` process started by the dev tooling, without persistence, on loopback. */
export interface RedisInstance {
  readonly url: string;
  readonly port: number;
  /** Stops the process (SIGKILL when `hard`), keeping the port for `start()`. */
  stop(hard?: boolean): Promise<void>;
  /** Starts it again on the same port (a "Redis restart" for failure tests); all data is gone. */
  start(): Promise<void>;
  readonly running: boolean;
}

const MISSING =
  'redis-server was not found on PATH: install it with `apt-get install -y redis-server` (Debian) or set REDIS_URL(S) to a running server';

export function assertRedisServerInstalled(): void {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) throw new Error(MISSING);
}

class RedisProcess implements RedisInstance {
  private child?: ChildProcess;
  constructor(
    public port: number,
    private readonly password?: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    args.push('--daemonize', 'no', '--loglevel', 'notice', '--protected-mode', 'no', '--dir', tmpdir());
    if (this.password) args.push('--requirepass', this.password);
    const child = spawnChild('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    return new Promise((resolve, reject) => {
      let output = '';
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (/Ready to accept connections/i.test(output)) {
          cleanup();
          resolve();
        }
      };
      const onExit = (code: number | null) => {
        cleanup();
        const error = new Error(
          `redis-server on port ${this.port} exited (${code}) before it was ready: ${output.trim()}`,
        );
        (error as any).code = /Address already in use/i.test(output) ? 'EADDRINUSE' : undefined;
        reject(error);
      };
      const onError = (error: NodeJS.ErrnoException) => {
        cleanup();
        reject(error.code === 'ENOENT' ? new Error(MISSING) : error);
      };
      const cleanup = () => {
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        child.off('exit', onExit);
        child.off('error', onError);
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', onExit);
      child.once('error', onError);
    });
  }

  async stop(hard = false): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(hard ? 'SIGKILL' : 'SIGTERM');
    });
  }
}

/**
 * Starts `count` independent redis-server instances on free ports (a taken port is retried on
 * another). With `password`, each requires it (`--requirepass`; their `url` does not carry it).
 * The caller stops them with `stopRedis`.
 */
export async function startRedis(count = 1, password?: string): Promise<RedisInstance[]> {
  assertRedisServerInstalled();
  const started: RedisInstance[] = [];
  try {
    for (let i = 0; i < count; i++) started.push(await startOne(password));
  } catch (error) {
    await stopRedis(started);
    throw error;
  }
  return started;
}

async function startOne(password?: string, attempts = 5): Promise<RedisInstance> {
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    const instance = new RedisProcess(await freePort(), password);
    try {
      await instance.start();
      return instance;
    } catch (error) {
      lastError = error;
      if ((error as any).code !== 'EADDRINUSE') throw error;
    }
  }
  throw lastError;
}

export async function stopRedis(instances: RedisInstance[]): Promise<void> {
  await Promise.all(instances.map((instance) => instance.stop(true)));
}

/**
 * Restarts `instance` on the same port, as a crashed and restarted server: stopped (SIGKILL unless
 * `hard` is false), kept down `downMs`, started again. No persistence: every key is gone. `onDown`
 * runs once the process has exited.
 */
export async function restartRedis(
  instance: RedisInstance,
  { hard = true, downMs = 0, onDown }: { hard?: boolean; downMs?: number; onDown?: () => void } = {},
): Promise<void> {
  await instance.stop(hard);
  onDown?.();
  if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
  await instance.start();
}
