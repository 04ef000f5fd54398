import type { ChangeStreamReport } from './change-stream.inspector';
import { relayStall, stallProblems, type RelayStall, type RelayStallLimits } from './relay-stall';
import { DEFAULTS } from '../options/defaults';
import { redactText } from '../utils/redact';
import { restartHealth, restartProblem, type RestartHealth } from './restart-health';

/** Thresholds of {@link assessHealth}. Every one is optional: unset means never DOWN for that reason. */
export interface ChangeStreamHealthOptions {
  /**
   * A leader that has not read from its change stream for longer than this is DOWN (a getMore
   * returns at least every `relay.maxAwaitTimeMs`, even on an idle stream, so silence means stuck).
   * Default: `DEFAULTS.health.maxReadSilenceMs` (60 000 ms).
   */
  maxReadSilenceMs?: number;
  /** A leader whose checkpoint was not written for longer than this is DOWN. Default: unset. */
  maxCheckpointAgeMs?: number;
  /**
   * Liveness (`EventLoopHealthIndicator.isLive`) is DOWN once the event loop was blocked longer than
   * this. Default: `DEFAULTS.health.maxEventLoopDelayMs` (5 000 ms).
   */
  maxEventLoopDelayMs?: number;
}

/** One stream of the health details (with what its relay waits on: see `RelayStall`). */
export interface StreamHealth extends RelayStall {
  name: string;
  role: string;
  epoch: number | null;
  /** ms the held lease is still valid (leader only). */
  leaseValidForMs: number | null;
  /** now - cluster time of the last checkpointed event (any replica: read from the checkpoint). */
  lagMs: number | null;
  /** ms since this replica last read from the stream (leader only). */
  lastReadAgoMs: number | null;
  /** ms since the checkpoint was last written (by whichever leader). */
  checkpointAgeMs: number | null;
  inFlightEvents: number;
  stoppedReason: string | null;
  lastError: string | null;
  /** While the stream is `restarting` after a failed term: why, which attempt, for how long. */
  restart: RestartHealth | null;
}

/** The health verdict and the details the indicator reports. */
export interface ChangeStreamHealth {
  up: boolean;
  /** Why it is DOWN (empty when up). */
  problems: string[];
  roles: { relay: boolean; worker: boolean };
  instanceId: string;
  /** `leader` when this replica leads at least one stream, else `standby` (or `off`). */
  leadership: 'leader' | 'standby' | 'off';
  streams: StreamHealth[];
  worker: {
    state: string;
    groupId: string;
    topics: string[];
    assignedPartitions: number;
    /** While `restarting` (kafkajs gave up on it): why, which attempt, for how long. */
    restart: RestartHealth | null;
  } | null;
  oplogWindowMs: number | null;
}

const ago = (date: Date | null, now: number): number | null =>
  date ? Math.max(0, now - date.getTime()) : null;

/**
 * Decides UP or DOWN from a report. DOWN when: a stream was stopped by policy (history lost with
 * `onHistoryLost: 'fail'`, a rejected pipeline); a leader holds an expired lease, or read nothing for
 * `maxReadSilenceMs`, or checkpointed nothing for `maxCheckpointAgeMs`, or has waited on Kafka for
 * more than `maxPublishStallMs`, or has read events not checkpointed for more than
 * `maxCheckpointLagMs` (an idle leader waits on nothing: it stays UP); the worker is draining or
 * stopped; a stream or the worker is `restarting` (it gave up on an error no policy covers and is
 * being brought back with backoff). A standby is UP: it is ready to take over.
 */
export function assessHealth(
  report: ChangeStreamReport,
  roles: { relay: boolean; worker: boolean },
  {
    maxReadSilenceMs = DEFAULTS.health.maxReadSilenceMs,
    maxCheckpointAgeMs,
    ...limits
  }: ChangeStreamHealthOptions & RelayStallLimits = {},
): ChangeStreamHealth {
  const now = report.at.getTime();
  const problems: string[] = [];
  const streams = report.relay.streams.map((s): StreamHealth => {
    const checkpoint = report.checkpoints.find((c) => c.stream === s.name);
    const health: StreamHealth = {
      name: s.name,
      role: s.role,
      epoch: s.epoch,
      leaseValidForMs: s.role === 'leader' && s.leaseValidUntil !== null ? s.leaseValidUntil - now : null,
      lagMs: ago(checkpoint?.eventTime ?? null, now),
      lastReadAgoMs: s.role === 'leader' ? ago(s.lastReadAt, now) : null,
      checkpointAgeMs: ago(checkpoint?.savedAt ?? null, now),
      inFlightEvents: s.inFlightEvents,
      ...relayStall(s, now),
      // NOTE: reasons and errors come from drivers, which may quote a URI with its credentials.
      stoppedReason: s.stoppedReason && redactText(s.stoppedReason),
      lastError: s.lastError ? `${redactText(s.lastError.message)} (${s.lastError.at.toISOString()})` : null,
      restart: restartHealth(s.restart, now),
    };
    if (health.stoppedReason) problems.push(`stream "${s.name}" stopped: ${health.stoppedReason}`);
    if (s.restart) problems.push(restartProblem(`stream "${s.name}"`, s.restart, now));
    if (s.role === 'leader') {
      if (health.leaseValidForMs !== null && health.leaseValidForMs <= 0) {
        problems.push(`stream "${s.name}": leader with an expired lease`);
      }
      if (health.lastReadAgoMs !== null && health.lastReadAgoMs > maxReadSilenceMs) {
        problems.push(`stream "${s.name}": nothing read for ${health.lastReadAgoMs} ms`);
      }
      if (maxCheckpointAgeMs !== undefined && (health.checkpointAgeMs ?? 0) > maxCheckpointAgeMs) {
        problems.push(`stream "${s.name}": checkpoint ${health.checkpointAgeMs} ms old`);
      }
      problems.push(...stallProblems(s, health, limits));
    }
    return health;
  });

  const worker = report.worker && {
    state: report.worker.state,
    groupId: report.worker.groupId,
    topics: report.worker.topics,
    assignedPartitions: Object.values(report.worker.assignment).reduce((n, parts) => n + parts.length, 0),
    restart: restartHealth(report.worker.restart, now),
  };
  if (worker && (worker.state === 'draining' || worker.state === 'stopped')) {
    problems.push(`worker ${worker.state}`);
  }
  if (report.worker?.restart) problems.push(restartProblem('worker', report.worker.restart, now));

  const leadership = !roles.relay ? 'off' : streams.some((s) => s.role === 'leader') ? 'leader' : 'standby';
  const oplog = report.oplog;
  return {
    up: problems.length === 0,
    problems,
    roles,
    instanceId: report.relay.instanceId,
    leadership,
    streams,
    worker,
    oplogWindowMs: oplog ? oplog.last.getTime() - oplog.first.getTime() : null,
  };
}
