/**
 * The chaos run's replicas of the orders service, kept at strength like a Deployment would: a
 * replica killed by a fault is replaced by a new process (a new name, the same environment).
 */
import { startReplica, type Replica, type ReplicaHealth } from '../support/replicas';

/** One replica's answer to GET /health (null: it did not answer). */
export interface Probe {
  replica: Replica;
  health: ReplicaHealth | null;
}

export class ReplicaPool {
  readonly all: Replica[] = [];
  /** SIGSTOPped replicas: alive, but not answering. */
  private readonly frozen = new Set<Replica>();
  private started = 0;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly logDir: string,
    readonly size: number,
  ) {}

  /** How many replica processes were started (the first ones and the replacements). */
  get startedCount(): number {
    return this.started;
  }

  /** Starts one more replica. */
  async add(): Promise<Replica> {
    const replica = await startReplica(`replica-${++this.started}`, this.env, this.logDir);
    this.all.push(replica);
    return replica;
  }

  /** Running replicas that are not SIGSTOPped. */
  live(): Replica[] {
    return this.all.filter((r) => r.alive && !this.frozen.has(r));
  }

  freeze(replica: Replica): void {
    this.frozen.add(replica);
    replica.signal('SIGSTOP');
  }

  thaw(replica: Replica): void {
    replica.signal('SIGCONT');
    this.frozen.delete(replica);
  }

  /** /health of every live replica, in parallel. */
  probe(replicas: Replica[] = this.live()): Promise<Probe[]> {
    return Promise.all(replicas.map(async (replica) => ({ replica, health: await replica.health() })));
  }

  /** The live replicas reporting leadership, highest epoch first. */
  async leaders(exclude?: Replica): Promise<Array<{ replica: Replica; epoch: number }>> {
    const probes = await this.probe(this.live().filter((r) => r !== exclude));
    return probes
      .filter((p) => p.health?.details?.changeStream?.leadership === 'leader')
      .map((p) => ({ replica: p.replica, epoch: p.health!.details!.changeStream!.streams[0]?.epoch ?? 0 }))
      .sort((a, b) => b.epoch - a.epoch);
  }

  /** Stops everything: SIGCONT for frozen ones, SIGTERM (drain), SIGKILL after `graceMs`. */
  async stopAll(graceMs = 15_000): Promise<void> {
    for (const replica of this.frozen) this.thaw(replica);
    await Promise.all(
      this.all.map(async (replica) => {
        if (!replica.alive) return;
        const timer = setTimeout(() => replica.signal('SIGKILL'), graceMs);
        await replica.kill('SIGTERM');
        clearTimeout(timer);
      }),
    );
  }
}

/** One line per replica: name, pid, role, epoch, partitions (for progress and anomaly reports). */
export function describeProbes(probes: Probe[]): string {
  return probes
    .map(({ replica, health }) => {
      const cs = health?.details?.changeStream;
      if (!health) return `${replica.name}: no answer`;
      const epoch = cs?.streams[0]?.epoch ?? '-';
      return `${replica.name}: ${health.status} ${cs?.leadership ?? '?'} e${epoch} p${cs?.worker?.assignedPartitions ?? '-'} ${cs?.worker?.state ?? ''}`.trim();
    })
    .join(', ');
}

/** One line per replica with what its /health says of its relay and its worker (for stalls). */
export function describeStall(probes: Probe[]): string[] {
  return probes.map(({ replica, health }) => {
    const cs = health?.details?.changeStream as Record<string, unknown> | undefined;
    if (!cs) return `  ${replica.name}: no answer`;
    return `  ${replica.name}: ${JSON.stringify({ streams: cs.streams, worker: cs.worker, problems: cs.problems }).slice(0, 1_500)}`;
  });
}

/** A replica the liveness probe restarted, and why. */
export interface LivenessRestart {
  replica: string;
  replacement: string;
  /** ms since the run started. */
  at: number;
  reason: string;
}

/**
 * The Deployment's liveness probe (k8s/deployment.yaml: GET /health/live, restart after consecutive
 * failures): a live, not SIGSTOPped replica whose /health/live fails `failureThreshold` probes in a
 * row (no answer, or not 200) is SIGKILLed and replaced. /health going DOWN (a stall, a stop by
 * policy) restarts nothing: it is for alerts. A replica that never answered yet is starting
 * and not probed until `initialDelayMs` after its start.
 */
export class LivenessProbe {
  private timer?: NodeJS.Timeout;
  private readonly failures = new Map<Replica, number>();
  private readonly startedAt = new Map<Replica, number>();
  private readonly answered = new Set<Replica>();
  private probing = false;
  readonly restarts: LivenessRestart[] = [];

  constructor(
    private readonly pool: ReplicaPool,
    private readonly options: {
      periodMs: number;
      failureThreshold: number;
      initialDelayMs: number;
      elapsed: () => number;
      onRestart: (restart: LivenessRestart) => void;
    },
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.probe(), this.options.periodMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async probe(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      const replicas = this.pool.live();
      const answers = await Promise.all(replicas.map((replica) => replica.liveness()));
      for (const [index, replica] of replicas.entries()) {
        const status = answers[index];
        if (!this.startedAt.has(replica)) this.startedAt.set(replica, Date.now());
        if (status !== null) this.answered.add(replica);
        const starting =
          !this.answered.has(replica) &&
          Date.now() - this.startedAt.get(replica)! < this.options.initialDelayMs;
        if (status === 200 || starting || !replica.alive || !this.pool.live().includes(replica)) {
          this.failures.delete(replica);
          continue;
        }
        const failures = (this.failures.get(replica) ?? 0) + 1;
        this.failures.set(replica, failures);
        if (failures < this.options.failureThreshold) continue;
        this.failures.delete(replica);
        const reason =
          status === null
            ? `/health/live did not answer ${failures} times in a row`
            : `/health/live answered ${status} ${failures} times in a row`;
        await replica.kill('SIGKILL');
        const replacement = await this.pool.add();
        const restart = {
          replica: replica.name,
          replacement: replacement.name,
          at: this.options.elapsed(),
          reason,
        };
        this.restarts.push(restart);
        this.options.onRestart(restart);
      }
    } finally {
      this.probing = false;
    }
  }
}
