import type { ChangeStreamReport } from './change-stream.inspector';
import { redactText } from '../utils/redact';

/**
 * A part of the library a replica's readiness can require: `relay` (its streams are not stopped
 * by policy) or `worker` (its worker is running in the consumer group).
 */
export type ReadinessNeed = 'relay' | 'worker';

/** The names the needs had before 0.2, still accepted for one minor version. */
const RENAMED_NEEDS: Readonly<Record<string, ReadinessNeed>> = { listener: 'relay', consumer: 'worker' };

/** Options of {@link ChangeStreamHealthIndicator.isReady}. */
export interface ReadinessOptions {
  /**
   * What this replica's share of work needs from the library. Default `[]`: the library never
   * takes the replica out of its Service (an API replica serves whatever Kafka does).
   */
  needs?: readonly (ReadinessNeed | 'listener' | 'consumer')[];
}

/** The readiness verdict. */
export interface ChangeStreamReadiness {
  ready: boolean;
  needs: ReadinessNeed[];
  /** Why it is not ready (empty when ready). */
  problems: string[];
}

type Statuses = Pick<ChangeStreamReport, 'relay' | 'worker'>;
type Roles = { relay: boolean; worker: boolean };

/**
 * Whether this replica can do its share of work now, as far as the `needs` parts go. Only what a
 * replica can change by being taken out of rotation counts: a stream stopped by policy, a relay
 * not started yet, a worker that is not in its group. A leader waiting on Kafka, or a standby, is
 * ready: every replica waits on the same broker, and a standby is ready to take over.
 */
export function assessReadiness(
  statuses: Statuses,
  roles: Roles,
  given: readonly string[],
): ChangeStreamReadiness {
  const needs = given.map((need) => RENAMED_NEEDS[need] ?? (need as ReadinessNeed));
  const problems = needs.flatMap((need) =>
    need === 'relay' ? relayProblems(statuses, roles) : workerProblems(statuses, roles),
  );
  return { ready: problems.length === 0, needs: [...needs], problems };
}

function relayProblems({ relay }: Statuses, roles: Roles): string[] {
  if (!roles.relay) return ['relay role is off in this replica'];
  return relay.streams.flatMap((s) => {
    // NOTE: reasons come from drivers, which may quote a URI with its credentials.
    if (s.stoppedReason) return [`stream "${s.name}" stopped: ${redactText(s.stoppedReason)}`];
    if (s.role === 'starting') return [`stream "${s.name}" not started`];
    return [];
  });
}

function workerProblems({ worker }: Statuses, roles: Roles): string[] {
  if (!roles.worker || !worker) return ['worker role is off in this replica'];
  return worker.state === 'running' ? [] : [`worker ${worker.state}`];
}
