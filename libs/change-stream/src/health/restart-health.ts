import { redactText } from '../utils/redact';

/** What the status holds about a part being brought back (a stream's relay, the worker's Kafka consumer). */
interface Restart {
  reason: string;
  attempt: number;
  since: Date;
}

/** A part being brought back after it gave up, as /health reports it. */
export interface RestartHealth {
  /** Why it went down, or why the last attempt failed (redacted). */
  reason: string;
  /** The consecutive attempt: 1 for the first. */
  attempt: number;
  /** ms since it went down. */
  downForMs: number;
}

/** The health details of `restart` at `now`, or null when nothing is being brought back. */
export function restartHealth(restart: Restart | null, now: number): RestartHealth | null {
  if (!restart) return null;
  return {
    // NOTE: reasons come from drivers, which may quote a URI with its credentials.
    reason: redactText(restart.reason),
    attempt: restart.attempt,
    downForMs: Math.max(0, now - restart.since.getTime()),
  };
}

/**
 * Why `part` makes /health DOWN while it is being brought back. DOWN at once: kafkajs gives up, and
 * an error reaches the elector, only after the client's own retries were spent, so this is no blip;
 * it clears by itself once the part is back.
 */
export function restartProblem(part: string, restart: Restart, now: number): string {
  const { reason, attempt, downForMs } = restartHealth(restart, now)!;
  return `${part} restarting since ${restart.since.toISOString()} (${Math.round(downForMs / 1000)} s, attempt ${attempt}): ${reason}`;
}
