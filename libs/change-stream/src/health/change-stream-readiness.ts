import type { ChangeStreamReport } from './change-stream.inspector';
import { redactText } from '../utils/redact';

/**
 * A part of the library a replica's readiness can require: `listener` (its streams are not stopped
 * by policy) or `consumer` (its worker is running in the consumer group).
 */
export type ReadinessNeed = 'listener' | 'consumer';

/** Options of {@link ChangeStreamHealthIndicator.isReady}. */
export interface ReadinessOptions {
  /**
   * What this replica's share of work needs from the library. Default `[]`: the library never
   * takes the replica out of its Service (an API replica serves whatever Kafka does).
   */
  needs?: readonly ReadinessNeed[];
}

/** The readiness verdict. */
export interface ChangeStreamReadiness {
  ready: boolean;
  needs: ReadinessNeed[];
  /** Why it is not ready (empty when ready). */
  problems: string[];
}

type Statuses = Pick<ChangeStreamReport, 'listener' | 'consumer'>;
type Roles = { listener: boolean; consumer: boolean };

/**
 * Whether this replica can do its share of work now, as far as the `needs` parts go. Only what a
 * replica can change by being taken out of rotation counts: a stream stopped by policy, a listener
 * not started yet, a consumer that is not in its group. A leader waiting on Kafka, or a standby, is
 * ready: every replica waits on the same broker, and a standby is ready to take over.
 */
export function assessReadiness(
  statuses: Statuses,
  roles: Roles,
  needs: readonly ReadinessNeed[],
): ChangeStreamReadiness {
  const problems = needs.flatMap((need) =>
    need === 'listener' ? listenerProblems(statuses, roles) : consumerProblems(statuses, roles),
  );
  return { ready: problems.length === 0, needs: [...needs], problems };
}

function listenerProblems({ listener }: Statuses, roles: Roles): string[] {
  if (!roles.listener) return ['listener role is off in this replica'];
  return listener.streams.flatMap((s) => {
    // NOTE: reasons come from drivers, which may quote a URI with its credentials.
    if (s.stoppedReason) return [`stream "${s.name}" stopped: ${redactText(s.stoppedReason)}`];
    if (s.role === 'starting') return [`stream "${s.name}" not started`];
    return [];
  });
}

function consumerProblems({ consumer }: Statuses, roles: Roles): string[] {
  if (!roles.consumer || !consumer) return ['consumer role is off in this replica'];
  return consumer.state === 'running' ? [] : [`consumer ${consumer.state}`];
}
