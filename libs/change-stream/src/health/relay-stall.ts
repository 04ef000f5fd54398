import type { StreamStatus } from './stream-status';

/** Limits past which a leading relay is DOWN (see `relay.maxPublishStallMs` / `relay.maxCheckpointLagMs`). */
export interface RelayStallLimits {
  /** Unset: never DOWN for a stalled publish. */
  maxPublishStallMs?: number;
  /** Unset: never DOWN for checkpoint lag. */
  maxCheckpointLagMs?: number;
}

/** How long a leader's relay has been waiting, as health reports it. */
export interface RelayStall {
  /** ms a send (or the producer's connection) has waited for Kafka; null when nothing waits. */
  publishStalledMs: number | null;
  consecutivePublishFailures: number;
  /** ms since the oldest event read but not yet checkpointed was read; null when none is. */
  checkpointLagMs: number | null;
}

const since = (date: Date | null, now: number): number | null =>
  date ? Math.max(0, now - date.getTime()) : null;
const secs = (ms: number) => Math.round(ms / 1000);

/**
 * What a stream's relay is waiting on at `now`. Both figures measure work waiting, not time since
 * the last event: a leader with nothing to publish or checkpoint (an idle stream) reports null.
 */
export function relayStall(s: StreamStatus, now: number): RelayStall {
  const leading = s.role === 'leader';
  return {
    publishStalledMs: leading ? since(s.publishWaitingSince, now) : null,
    consecutivePublishFailures: leading ? s.consecutivePublishFailures : 0,
    checkpointLagMs: leading ? since(s.checkpointPendingSince, now) : null,
  };
}

/** Why `stall` makes the stream DOWN under `limits` (empty when it does not). */
export function stallProblems(s: StreamStatus, stall: RelayStall, limits: RelayStallLimits): string[] {
  const problems: string[] = [];
  const { maxPublishStallMs, maxCheckpointLagMs } = limits;
  if (maxPublishStallMs !== undefined && (stall.publishStalledMs ?? 0) > maxPublishStallMs) {
    problems.push(
      `stream "${s.name}": publish stalled since ${s.publishWaitingSince!.toISOString()} ` +
        `(${secs(stall.publishStalledMs!)} s, ${stall.consecutivePublishFailures} consecutive failures)`,
    );
  }
  if (maxCheckpointLagMs !== undefined && (stall.checkpointLagMs ?? 0) > maxCheckpointLagMs) {
    problems.push(
      `stream "${s.name}": checkpoint lag ${secs(stall.checkpointLagMs!)} s (limit ${secs(maxCheckpointLagMs)} s)`,
    );
  }
  return problems;
}
