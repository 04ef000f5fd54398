/**
 * Test harness for the Kafka-protocol stand-in: a librdkafka mock cluster in a child process
 * (launcher.c) that real Kafka clients such as kafkajs talk to over loopback, with fault injection.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ConsumerConfig, KafkaConfig, logLevel } from 'kafkajs';
import { ensureBuilt } from './build';
import { startGroupSyncProxy, type GroupSyncProxy } from './group-sync-proxy';

/** A topic created when the stand-in starts. */
export interface KafkaStandinTopic {
  name: string;
  partitions: number;
}

/** Options of {@link startKafkaStandin}. */
export interface KafkaStandinOptions {
  /** Number of brokers, ids 1..N (default 1). */
  brokers?: number;
  /** Topics to create at start. Topics a client names in a Metadata request are auto-created with 4 partitions. */
  topics?: KafkaStandinTopic[];
  /**
   * Clients connect through a proxy that completes consumer-group syncs as a Kafka broker does
   * (see group-sync-proxy.ts): without it the mock coordinator fails a member whose SyncGroup
   * arrives after the group leader's (typically a replica joining a running group). Default false.
   */
  groupSyncProxy?: boolean;
}

/** A running stand-in cluster. Every method resolves once the launcher answered `ok`, and rejects with its error. */
export interface KafkaStandin {
  /** Bootstrap addresses, `host:port`, one per broker (broker ids 1..N in order). */
  readonly brokers: string[];
  /** With `groupSyncProxy`: how often it held a leader's SyncGroup for a late follower, and rewrote an INVALID_REQUEST. */
  readonly groupSync?: { readonly held: number; readonly rewrites: number };
  /** Ends the launcher (closes its stdin) and waits for it to exit. Safe to call twice. */
  stop(): Promise<void>;
  /** Disconnects broker `id` and refuses new connections to it; partition leadership does not move. */
  brokerDown(id: number): Promise<void>;
  /** Makes broker `id` accept connections again. */
  brokerUp(id: number): Promise<void>;
  /** Delays every response of broker `id` by `ms` milliseconds (0 removes the delay). */
  setRtt(id: number, ms: number): Promise<void>;
  /** Makes the next `count` requests of Kafka API `apiKey` (0 = Produce, 1 = Fetch, ...) fail with `errorCode`. */
  failRequests(apiKey: number, errorCode: number, count: number): Promise<void>;
  /** Drops the pending failures queued by {@link failRequests} for `apiKey`. */
  clearRequestErrors(apiKey: number): Promise<void>;
  /** Creates a topic (the stand-in does not support the admin CreateTopics API). */
  createTopic(name: string, partitions: number): Promise<void>;
  /** Moves the leader of a partition to broker `brokerId` (-1: no leader). */
  setLeader(topic: string, partition: number, brokerId: number): Promise<void>;
}

/**
 * kafkajs `Kafka` settings for tests against the stand-in: silent, quick first retry. Spread into
 * `new Kafka({ ...TEST_KAFKA_SETTINGS, clientId, brokers })`.
 */
export const TEST_KAFKA_SETTINGS = {
  logLevel: logLevel.NOTHING,
  retry: { initialRetryTime: 100, retries: 8 },
} satisfies Partial<KafkaConfig>;

/**
 * kafkajs consumer settings for tests against the stand-in. The mock coordinator holds every rebalance
 * after the first for `sessionTimeout - 1 s`, and holds an empty fetch for the full `maxWaitTimeInMs`
 * (which also delays `disconnect()`), so both are kept small. The first join still takes about 3 s:
 * start the members of one group together. Spread into `kafka.consumer({ ...TEST_CONSUMER_SETTINGS, groupId })`.
 */
export const TEST_CONSUMER_SETTINGS = {
  sessionTimeout: 6000,
  heartbeatInterval: 500,
  maxWaitTimeInMs: 100,
} satisfies Partial<ConsumerConfig>;

/** How long the launcher may take to print its bootstrap list or answer a command. */
const ANSWER_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const STDERR_TAIL_CHARS = 4_000;

/**
 * Starts a stand-in cluster (building the launcher first if needed). The launcher exits when this
 * process ends because its stdin pipe closes; still call `stop()` when done.
 */
export async function startKafkaStandin(opts: KafkaStandinOptions = {}): Promise<KafkaStandin> {
  const launcher = new Launcher(ensureBuilt(), launcherArgs(opts));
  const bootstrap = await launcher.started;
  let proxy: GroupSyncProxy | undefined;
  if (opts.groupSyncProxy) {
    proxy = await startGroupSyncProxy(bootstrap.split(',')).catch(async (error: Error) => {
      await launcher.stop();
      throw error;
    });
  }
  return {
    brokers: proxy?.brokers ?? bootstrap.split(','),
    groupSync: proxy,
    stop: async () => {
      await proxy?.close();
      await launcher.stop();
    },
    brokerDown: async (id) => {
      await launcher.command('down', id);
      await proxy?.down(id);
    },
    brokerUp: async (id) => {
      await launcher.command('up', id);
      await proxy?.up(id);
    },
    setRtt: (id, ms) => launcher.command('rtt', id, ms),
    failRequests: (apiKey, errorCode, count) => launcher.command('fail', apiKey, errorCode, count),
    clearRequestErrors: (apiKey) => launcher.command('clear', apiKey),
    createTopic: (name, partitions) => launcher.command('topic', name, partitions),
    setLeader: (topic, partition, brokerId) => launcher.command('leader', topic, partition, brokerId),
  };
}

function launcherArgs({ brokers, topics = [] }: KafkaStandinOptions): string[] {
  const args = brokers === undefined ? [] : ['--brokers', String(brokers)];
  for (const { name, partitions } of topics) args.push('--topic', `${name}:${partitions}`);
  return args;
}

/** The launcher child process and its line protocol: one command in flight, one answer line each. */
class Launcher {
  /** Resolves with the bootstrap list (the first stdout line). */
  readonly started: Promise<string>;
  private readonly child: ChildProcess;
  private readonly closed: Promise<void>;
  private readonly lines: string[] = [];
  private lineWaiter?: () => void;
  private stderrTail = '';
  private queue: Promise<unknown> = Promise.resolve();
  /** Why the launcher is gone, once it is (with the end of its stderr). */
  private ended?: string;

  constructor(binary: string, args: string[]) {
    this.child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    // NOTE: stderr is drained continuously: a full pipe would block the launcher's logging threads.
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
    });
    // Writes after the launcher exited fail with EPIPE; the exit itself is reported to callers.
    this.child.stdin!.on('error', () => undefined);
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.lines.push(line);
      this.lineWaiter?.();
    });
    this.closed = new Promise((resolve) => {
      const end = (reason: string) => {
        const stderr = this.stderrTail.trim();
        this.ended ??= stderr ? `${reason}: ${stderr}` : reason;
        this.lineWaiter?.();
        resolve();
      };
      this.child.once('error', (error) => end(`could not be spawned (${binary}): ${error.message}`));
      // 'close' (not 'exit') comes after stdout and stderr were read to their end.
      this.child.once('close', (code, signal) => end(`exited (${signal ?? `code ${code}`})`));
    });
    this.started = this.readLine().catch(async (error: Error) => {
      await this.stop();
      throw new Error(
        `Kafka stand-in (${['kafka-standin', ...args].join(' ')}) did not start: ${error.message}`,
      );
    });
  }

  /** Sends one command line (after the previous one was answered) and resolves on `ok`. */
  command(name: string, ...args: Array<string | number>): Promise<void> {
    const words = [name, ...args.map(String)];
    const line = words.join(' ');
    const run = async () => {
      const bad = words.find((word) => !/^\S+$/.test(word));
      if (bad !== undefined)
        throw new Error(`Kafka stand-in "${name}": invalid argument ${JSON.stringify(bad)}`);
      if (this.ended) throw new Error(`Kafka stand-in "${line}" failed: ${this.ended}`);
      this.child.stdin!.write(`${line}\n`);
      const answer = await this.readLine().catch((error: Error) => {
        throw new Error(`Kafka stand-in "${line}" failed: ${error.message}`);
      });
      if (answer !== 'ok')
        throw new Error(`Kafka stand-in "${line}" failed: ${answer.replace(/^error /, '')}`);
    };
    const result = this.queue.then(run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Closes the launcher's stdin, then escalates to SIGTERM and SIGKILL if it does not exit. */
  async stop(): Promise<void> {
    if (!this.ended) {
      this.child.stdin!.end();
      if (!(await this.closesWithin(STOP_TIMEOUT_MS))) {
        this.child.kill('SIGTERM');
        if (!(await this.closesWithin(STOP_TIMEOUT_MS))) this.child.kill('SIGKILL');
      }
    }
    await this.closed;
  }

  private async closesWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    try {
      return await Promise.race([this.closed.then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves with the next stdout line; rejects when the launcher ends first or stays silent too long. */
  private readLine(): Promise<string> {
    return new Promise((resolve, reject) => {
      const settle = (): boolean => {
        const line = this.lines.shift();
        if (line !== undefined) resolve(line);
        else if (this.ended) reject(new Error(this.ended));
        else return false;
        return true;
      };
      if (settle()) return;
      const timer = setTimeout(() => {
        this.lineWaiter = undefined;
        // NOTE: a late answer would be taken for the next command's, so the launcher is unusable now.
        this.ended ??= `gave no answer within ${ANSWER_TIMEOUT_MS} ms and was killed`;
        this.child.kill('SIGKILL');
        reject(new Error(this.ended));
      }, ANSWER_TIMEOUT_MS);
      this.lineWaiter = () => {
        if (!settle()) return;
        clearTimeout(timer);
        this.lineWaiter = undefined;
      };
    });
  }
}
