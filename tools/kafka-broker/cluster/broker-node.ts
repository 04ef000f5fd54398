/**
 * One Kafka node (KRaft broker + controller) as a JVM child process: its storage formatted once,
 * started on its ports, signalled for faults, and never outliving the process that started it.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { spawnChild } from '../../launch/child-processes';
import { log4jProperties, serverProperties, type NodeLayout } from './broker-config';
import type { KafkaJars } from './jars';

/** Heap and GC for a test broker: small, and one GC thread's worth of work on 2 cores. */
const JVM_OPTIONS = ['-Xms256m', '-Xmx512m', '-XX:+UseSerialGC', '-XX:+ExitOnOutOfMemoryError'];
/** The storage tool runs for a second: the client compiler alone starts it faster. */
const TOOL_JVM_OPTIONS = ['-Xmx256m', '-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'];
const LOG_TAIL_CHARS = 4_000;

/** A node whose JVM exited: how, and the end of its logs. */
export class BrokerExitedError extends Error {
  constructor(
    readonly nodeId: number,
    readonly how: string,
    readonly logTail: string,
  ) {
    super(`Kafka node ${nodeId} exited (${how}). End of its log:\n${logTail}`);
    this.name = 'BrokerExitedError';
    // The launcher retries on other ports when this is why (see tools/launch/ports.ts isAddressInUse).
    if (/Address already in use|BindException/i.test(logTail))
      (this as { code?: string }).code = 'EADDRINUSE';
  }
}

/** One node's JVM. `start()` launches it; readiness is the cluster's to check (through Metadata). */
export class BrokerNode {
  private child?: ChildProcess;
  private exit?: Promise<string>;
  private paused = false;

  constructor(
    readonly layout: NodeLayout,
    private readonly jars: KafkaJars,
  ) {}

  get id(): number {
    return this.layout.id;
  }

  /** The JVM's process id while it runs. */
  get pid(): number | undefined {
    return this.running ? this.child!.pid : undefined;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Writes the node's configuration and formats its fresh storage with `clusterId`. */
  async format(
    clusterId: string,
    nodes: readonly NodeLayout[],
    overrides: Record<string, string>,
  ): Promise<void> {
    mkdirSync(this.layout.dir, { recursive: true });
    writeFileSync(this.file('server.properties'), serverProperties(this.layout, nodes, overrides));
    writeFileSync(this.file('log4j2.properties'), log4jProperties(this.layout.dir));
    const args = [...TOOL_JVM_OPTIONS, '-cp', this.jars.classpath, 'kafka.tools.StorageTool'];
    args.push('format', '--cluster-id', clusterId, '--config', this.file('server.properties'));
    try {
      await promisify(execFile)('java', args, { timeout: 60_000 });
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; message: string };
      throw new Error(`Formatting Kafka node ${this.id} failed: ${e.stderr || e.stdout || e.message}`);
    }
  }

  /** Starts the JVM on the node's ports and storage (again after a stop: committed data survives). */
  start(): void {
    if (this.running) throw new Error(`Kafka node ${this.id} is already running (pid ${this.child!.pid})`);
    const out = openSync(this.file('stdout.log'), 'a');
    const args = [...JVM_OPTIONS, `-Dlog4j2.configurationFile=${this.file('log4j2.properties')}`];
    args.push('-cp', this.jars.classpath, 'kafka.Kafka', this.file('server.properties'));
    // NOTE: output goes to a file, not a pipe: a pipe nobody drains would block the JVM's logging.
    const child = spawnChild('java', args, { stdio: ['ignore', out, out] });
    closeSync(out);
    this.child = child;
    this.paused = false;
    this.exit = new Promise((resolve) => {
      child.once('error', (error) => resolve(`could not run java: ${error.message}`));
      child.once('exit', (code, signal) => resolve(signal ?? `code ${code}`));
    });
  }

  /** Resolves with a {@link BrokerExitedError} when this run of the JVM ends (never, while it runs). */
  async exited(): Promise<BrokerExitedError> {
    const how = await this.exit!;
    return new BrokerExitedError(this.id, how, this.logTail());
  }

  /** Sends `signal` to the JVM; SIGSTOP / SIGCONT are remembered, so a stop can resume it first. */
  signal(signal: 'SIGKILL' | 'SIGTERM' | 'SIGSTOP' | 'SIGCONT'): void {
    if (!this.running) throw new Error(`Kafka node ${this.id} is not running`);
    this.child!.kill(signal);
    if (signal === 'SIGSTOP' || signal === 'SIGCONT') this.paused = signal === 'SIGSTOP';
  }

  /**
   * Ends the JVM and waits until it has exited: SIGTERM (a controlled shutdown) first when `graceful`,
   * SIGKILL when it has not ended within `graceMs`.
   */
  async halt(graceful: boolean, graceMs = 30_000): Promise<void> {
    if (!this.running) return;
    if (this.paused) this.signal('SIGCONT');
    this.child!.kill(graceful ? 'SIGTERM' : 'SIGKILL');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
    if ((await Promise.race([this.exit!, late])) === 'late') this.child!.kill('SIGKILL');
    clearTimeout(timer);
    await this.exit;
  }

  /** The end of the broker's log and of the JVM's own output, for error messages. */
  logTail(chars = LOG_TAIL_CHARS): string {
    const tail = (name: string) =>
      existsSync(this.file(name)) ? readFileSync(this.file(name), 'utf8').slice(-chars).trim() : '';
    const stdout = tail('stdout.log');
    const log = tail('broker.log');
    return (
      [log && `broker.log: ...${log}`, stdout && `JVM output: ...${stdout}`].filter(Boolean).join('\n') ||
      '(empty)'
    );
  }

  private file(name: string): string {
    return join(this.layout.dir, name);
  }
}
