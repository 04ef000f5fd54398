/**
 * The chaos run's faults: which kinds exist, what each needs, the seeded schedule, and how each is
 * injected and waited out. Faults run one after another (each injected at its point of the write
 * sequence, then waited out) while the writer goes on.
 */
import { restartRedis } from '../support/redis';
import type { Replica } from '../support/replicas';
import { waitFor } from '../support/wait';
import { describeProbes, type ReplicaPool } from './replica-pool';
import type { Ground } from '../support/ground';

export const FAULT_KINDS = [
  'leader-sigkill',
  'worker-sigkill',
  'leader-sigstop',
  'mongo-connection-drop',
  'mongo-step-down',
  'kafka-broker-down',
  'redis-restart',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** The stand-in a kind needs control of (process faults need none). */
const NEEDS: Partial<Record<FaultKind, 'mongo' | 'kafka' | 'redis'>> = {
  'mongo-connection-drop': 'mongo',
  'mongo-step-down': 'mongo',
  'kafka-broker-down': 'kafka',
  'redis-restart': 'redis',
};

/** Why `kind` cannot be injected on this ground (a real server named by the environment), or null. */
export function skipReason(kind: FaultKind, ground: Ground): string | null {
  const server = NEEDS[kind];
  if (!server || !ground.real[server]) return null;
  const variable = { mongo: 'MONGO_URL', kafka: 'KAFKA_BROKERS', redis: 'REDIS_URL(S)' }[server];
  return `${variable} names a server of its own: only servers the run started can be faulted`;
}

/** One planned fault: its kind and the write position (change events written) it waits for. */
export interface PlannedFault {
  kind: FaultKind;
  at: number;
}

/**
 * Spreads `rounds` faults of each kind over 5%-85% of the write sequence, in a seeded order and at
 * seeded positions (one per equal slot, so they do not bunch up).
 */
export function planFaults(
  random: () => number,
  kinds: readonly FaultKind[],
  rounds: number,
  changes: number,
): PlannedFault[] {
  const list = Array.from({ length: rounds }, () => [...kinds]).flat();
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [list[i], list[j]] = [list[j], list[i]];
  }
  const from = 0.05 * changes;
  const slot = (0.8 * changes) / Math.max(1, list.length);
  return list.map((kind, i) => ({ kind, at: Math.floor(from + slot * i + random() * slot * 0.5) }));
}

/** What happened when a fault was injected. */
export interface FaultRecord {
  kind: FaultKind;
  /** ms since the run started. */
  at: number;
  /** Change events written when it was injected. */
  position: number;
  target?: string;
  detail: string;
  /** Leader faults: ms from the fault to a live replica reporting leadership with a higher epoch on /health. */
  failoverMs?: number;
  /** Leader faults: ms from the fault to the new leader taking its epoch (the checkpoint's `electedAt`). */
  takeoverMs?: number;
  /** Something that should not have happened (the run goes on; the report lists it). */
  anomaly?: string;
}

export interface FaultContext {
  ground: Ground;
  pool: ReplicaPool;
  /** Seeded: targets and durations. */
  random: () => number;
  leaseTtlMs: number;
  elapsed(): number;
  position(): number;
  /** The stream's checkpoint document: the current epoch and when its leader took it. */
  checkpoint(): Promise<{ epoch: number; electedAt?: Date } | null>;
}

/** How long a live replica may take to lead after a leader fault before the run calls it an anomaly. */
const FAILOVER_LIMIT_MS = 120_000;

/** Injects `kind`; calls `injected()` the moment the fault is in place; resolves once it was waited out. */
export async function inject(kind: FaultKind, ctx: FaultContext, injected: () => void): Promise<FaultRecord> {
  const base = { kind, at: ctx.elapsed(), position: ctx.position() };
  switch (kind) {
    case 'leader-sigkill':
      return { ...base, ...(await killLeader(ctx, injected)) };
    case 'worker-sigkill':
      return { ...base, ...(await killWorker(ctx, injected)) };
    case 'leader-sigstop':
      return { ...base, ...(await freezeLeader(ctx, injected)) };
    case 'mongo-connection-drop': {
      ctx.ground.mongo!.closeAllConnections();
      injected();
      return { ...base, detail: 'every MongoDB client connection closed' };
    }
    case 'mongo-step-down': {
      const ms = Math.round(1_000 + ctx.random() * 2_000);
      ctx.ground.mongo!.stepDown(ms);
      injected();
      return { ...base, detail: `primary stepped down for ${ms} ms` };
    }
    case 'kafka-broker-down': {
      const ms = Math.round(1_500 + ctx.random() * 3_000);
      const since = Date.now();
      await ctx.ground.kafka!.kill(1);
      injected();
      await hold(ms);
      await ctx.ground.kafka!.restart(1);
      return {
        ...base,
        detail: `broker 1 (of 1) SIGKILLed, restarted after ${ms} ms, answering after ${Date.now() - since} ms`,
      };
    }
    case 'redis-restart': {
      const before = (await ctx.pool.leaders())[0];
      const ms = Math.round(200 + ctx.random() * 1_300);
      const instance = ctx.ground.redis[0];
      const since = Date.now();
      await restartRedis(instance, { downMs: ms, onDown: injected });
      // The lease keys are gone: the leader's next renewal fails and a term with a higher epoch starts.
      const after = await waitFor(
        async () => (await ctx.pool.leaders()).find((l) => !before || l.epoch > before.epoch),
        {
          timeoutMs: 4 * ctx.leaseTtlMs + 10_000,
          intervalMs: 100,
          what: 'a new term after the Redis restart',
        },
      ).catch(() => undefined);
      const change = !after
        ? `; ${before ? `${before.replica.name} still leads with epoch ${before.epoch}` : 'no leader'}`
        : `; ${before ? `${before.replica.name} e${before.epoch} -> ` : ''}${after.replica.name} e${after.epoch} after ${Date.now() - since} ms`;
      return {
        ...base,
        detail: `redis-server killed, started again on port ${instance.port} after ${ms} ms (lease keys gone)${change}`,
        ...(after ? {} : { anomaly: 'no new leadership term after the Redis restart' }),
      };
    }
  }
}

async function currentLeader(ctx: FaultContext): Promise<{ replica: Replica; epoch: number }> {
  return waitFor(async () => (await ctx.pool.leaders())[0], {
    timeoutMs: FAILOVER_LIMIT_MS,
    intervalMs: 100,
    what: 'a leader to fault',
  });
}

/** Polls every ~50 ms for a live replica other than `old` leading with an epoch above `epoch`. */
async function nextLeader(
  ctx: FaultContext,
  old: Replica,
  epoch: number,
  since: number,
): Promise<{ replica: Replica; epoch: number; ms: number; takeoverMs?: number; text: string } | undefined> {
  const next = await waitFor(
    async () => {
      const found = (await ctx.pool.leaders(old)).find((l) => l.epoch > epoch);
      return found && { ...found, ms: Date.now() - since };
    },
    { timeoutMs: FAILOVER_LIMIT_MS, intervalMs: 50, what: 'a new leader' },
  ).catch(() => undefined);
  if (!next) return undefined;
  // NOTE: /health answers only once a replica listens; a replacement that wins the lease during its
  // start-up (before its consumer joined the group) leads earlier than /health can show.
  const checkpoint = await ctx.checkpoint().catch(() => null);
  const takeoverMs =
    checkpoint?.epoch === next.epoch && checkpoint.electedAt
      ? checkpoint.electedAt.getTime() - since
      : undefined;
  const took = takeoverMs === undefined ? '' : ` (took the epoch after ${takeoverMs} ms)`;
  return {
    ...next,
    takeoverMs,
    text: `${next.replica.name} leads with epoch ${next.epoch} on /health after ${next.ms} ms${took}`,
  };
}

async function killLeader(ctx: FaultContext, injected: () => void) {
  const leader = await currentLeader(ctx);
  const since = Date.now();
  await leader.replica.kill('SIGKILL');
  injected();
  const replacement = ctx.pool.add();
  const next = await nextLeader(ctx, leader.replica, leader.epoch, since);
  const restarted = await replacement;
  return {
    target: leader.replica.name,
    failoverMs: next?.ms,
    takeoverMs: next?.takeoverMs,
    detail: next
      ? `${leader.replica.name} (leader, epoch ${leader.epoch}) SIGKILLed; ${next.text}; replaced by ${restarted.name}`
      : `${leader.replica.name} (leader, epoch ${leader.epoch}) SIGKILLed; replaced by ${restarted.name}`,
    ...(next ? {} : { anomaly: `no new leader within ${FAILOVER_LIMIT_MS} ms` }),
  };
}

async function killWorker(ctx: FaultContext, injected: () => void) {
  const probes = await ctx.pool.probe();
  const workers = probes.filter((p) => p.health?.details?.changeStream?.leadership !== 'leader');
  const busy = workers.filter((p) => (p.health?.details?.changeStream?.worker?.assignedPartitions ?? 0) > 0);
  const choices = busy.length ? busy : workers;
  if (choices.length === 0) {
    return { detail: 'no replica but the leader to kill', anomaly: 'worker fault not injected' };
  }
  const target = choices[Math.floor(ctx.random() * choices.length)];
  const partitions = target.health?.details?.changeStream?.worker?.assignedPartitions ?? 0;
  await target.replica.kill('SIGKILL');
  injected();
  const restarted = await ctx.pool.add();
  return {
    target: target.replica.name,
    detail: `${target.replica.name} (worker with ${partitions} partition(s)) SIGKILLed; replaced by ${restarted.name}`,
  };
}

async function freezeLeader(ctx: FaultContext, injected: () => void) {
  const leader = await currentLeader(ctx);
  const since = Date.now();
  ctx.pool.freeze(leader.replica);
  injected();
  const next = await nextLeader(ctx, leader.replica, leader.epoch, since);
  // Stopped for longer than the lease TTL (a new leader implies it), plus a seeded extra.
  const extra = Math.round(ctx.random() * 1_500);
  await hold(Math.max(0, since + ctx.leaseTtlMs - Date.now()) + extra);
  const stoppedMs = Date.now() - since;
  ctx.pool.thaw(leader.replica);
  // The resumed process must see that its term is over and stand by (it may not publish or checkpoint).
  const after = await waitFor(
    async () => {
      const health = await leader.replica.health();
      const cs = health?.details?.changeStream;
      return cs && cs.leadership !== 'leader' ? cs : null;
    },
    { timeoutMs: 30_000, intervalMs: 100, what: 'the resumed old leader to stand by' },
  ).catch(() => undefined);
  const resumed = after
    ? `after SIGCONT it stands by (${after.streams[0]?.role ?? '?'})`
    : `after SIGCONT it still reports leadership (${describeProbes(await ctx.pool.probe([leader.replica]))})`;
  return {
    target: leader.replica.name,
    failoverMs: next?.ms,
    takeoverMs: next?.takeoverMs,
    detail: `${leader.replica.name} (leader, epoch ${leader.epoch}) SIGSTOPped for ${stoppedMs} ms (lease TTL ${ctx.leaseTtlMs} ms); ${next ? next.text : 'no new leader'}; ${resumed}`,
    ...(next && after
      ? {}
      : {
          anomaly: next
            ? 'the resumed old leader did not stand by'
            : 'no new leader while the leader was stopped',
        }),
  };
}

/** A fault's seeded duration (how long a server stays down): part of the fault, not a wait for a condition. */
function hold(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Waits until the system is whole again after a fault: `size` live replicas, every one UP with its
 * consumer running, and a leader. Resolves with null, or with what was still wrong at the deadline.
 */
export async function settled(ctx: FaultContext, timeoutMs: number): Promise<string | null> {
  let last = '';
  try {
    await waitFor(
      async () => {
        const probes = await ctx.pool.probe();
        last = describeProbes(probes);
        const leaders = probes.filter((p) => p.health?.details?.changeStream?.leadership === 'leader');
        return (
          probes.length >= ctx.pool.size &&
          leaders.length === 1 &&
          probes.every(
            (p) => p.health?.status === 'ok' && p.health.details?.changeStream?.worker?.state === 'running',
          )
        );
      },
      { timeoutMs, intervalMs: 250, what: 'the replicas to settle' },
    );
    return null;
  } catch {
    return `not settled within ${timeoutMs} ms: ${last}`;
  }
}
