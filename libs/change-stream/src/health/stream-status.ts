/**
 * Where a stream's relay stands on this replica. `restarting`: a term failed on an error no policy
 * covers (or the campaign met one); it campaigns again after a backoff (see `restart`).
 */
export type StreamRole = 'starting' | 'standby' | 'leader' | 'restarting' | 'stopped';

/** Why a stream is `restarting`, since when, and when it campaigns again. */
export interface StreamRestart {
  reason: string;
  /** Consecutive failures so far (1 for the first). */
  attempt: number;
  /** When the first of these consecutive failures happened. */
  since: Date;
  /** When the relay campaigns again. */
  retryAt: Date;
}

/** One stream's relay on this replica, as health and metrics read it (a snapshot of its RelayStats). */
export interface StreamStatus {
  readonly name: string;
  role: StreamRole;
  /** Local time (ms since the epoch) the held lease is valid until; null when not leader. */
  leaseValidUntil: number | null;
  /** Epoch of the current (or last) leadership term. */
  epoch: number | null;
  lastReadAt: Date | null;
  lastPublishedAt: Date | null;
  lastCheckpointAt: Date | null;
  /** Events read but not yet acknowledged by Kafka. */
  inFlightEvents: number;
  inFlightBytes: number;
  /** Counters since start (for metrics). */
  eventsRead: number;
  eventsPublished: number;
  /** Kafka batches acknowledged, and the size of the last one (events). */
  batchesPublished: number;
  lastBatchSize: number;
  checkpointsWritten: number;
  /** Kafka sends that failed (each is retried with backoff; the checkpoint waits). */
  publishFailures: number;
  /** Failed sends (and producer connections) since Kafka last acknowledged one; 0 when not leader. */
  consecutivePublishFailures: number;
  /**
   * When the send Kafka has not acknowledged yet began (its first attempt), or the producer's first
   * failed connection of this term; null while nothing waits (an idle leader, a standby).
   */
  publishWaitingSince: Date | null;
  /** When the oldest event read but not yet checkpointed was read; null when the checkpoint covers all. */
  checkpointPendingSince: Date | null;
  /** Events the relay could not publish (relay.onUnpublishable: stopped on, or dead-lettered). */
  unpublishableEvents: number;
  leaderTerms: number;
  /** Set when a policy stopped the stream (history lost with onHistoryLost 'fail', a rejected pipeline). */
  stoppedReason: string | null;
  /** The last error met (the relay retries it unless stoppedReason is set). */
  lastError: { message: string; at: Date } | null;
  /** While `restarting`: why, since when, which attempt; null otherwise. */
  restart: StreamRestart | null;
  /** Terms (or campaign rounds) that failed on an error no policy covers, since start; each was followed by a new campaign. */
  restarts: number;
  /** relay.delivery of this stream. */
  delivery: 'at-least-once' | 'exactly-once';
  /** Exactly-once: when the last Kafka transaction (events and checkpoint record) committed; null before the first. */
  lastTransactionAt: Date | null;
}

/** @internal A stream's status before anything happened: starting, counters at zero. */
export function newStreamStatus(name: string): StreamStatus {
  return {
    name,
    role: 'starting',
    leaseValidUntil: null,
    epoch: null,
    lastReadAt: null,
    lastPublishedAt: null,
    lastCheckpointAt: null,
    inFlightEvents: 0,
    inFlightBytes: 0,
    eventsRead: 0,
    eventsPublished: 0,
    batchesPublished: 0,
    lastBatchSize: 0,
    checkpointsWritten: 0,
    publishFailures: 0,
    consecutivePublishFailures: 0,
    publishWaitingSince: null,
    checkpointPendingSince: null,
    unpublishableEvents: 0,
    leaderTerms: 0,
    stoppedReason: null,
    lastError: null,
    restart: null,
    restarts: 0,
    delivery: 'at-least-once',
    lastTransactionAt: null,
  };
}
