import type { CampaignFailure } from '../leader/leader-elector';
import { newStreamStatus, type StreamStatus } from './stream-status';

/**
 * What one stream's relay records as it goes (the lease, reads, sends, checkpoints, restarts): the
 * only writer of the stream's status; health and metrics read a {@link snapshot}.
 *
 * The figures health compares with `relay.maxPublishStallMs` / `relay.maxCheckpointLagMs`:
 * - `publishWaitingSince`: the first attempt of the send not yet acknowledged (retries keep it), or
 *   the term's first failed producer connection;
 * - `consecutivePublishFailures`: failed attempts since the last acknowledgement (or connection);
 * - `checkpointPendingSince`: when the oldest event not covered by a saved checkpoint was read.
 * All are cleared when nothing waits, so an idle leader reports nothing.
 */
export class RelayStats {
  private readonly status: StreamStatus;
  /** Read time of the oldest event acknowledged by Kafka but not yet checkpointed (this session). */
  private unsavedReadAt: number | null = null;

  constructor(name: string) {
    this.status = newStreamStatus(name);
  }

  /** A copy of the stream's status now. */
  snapshot(): StreamStatus {
    return { ...this.status };
  }

  /** The stream's relay.delivery. */
  delivers(delivery: StreamStatus['delivery']): void {
    this.status.delivery = delivery;
  }

  /** Campaigning for the lease. */
  campaigning(): void {
    this.status.role = 'standby';
  }

  /** Won the lease, valid until `leaseValidUntil` (local ms). */
  elected(leaseValidUntil: number): void {
    Object.assign(this.status, { role: 'leader', leaseValidUntil });
  }

  /** The lease was renewed. */
  leaseRenewed(leaseValidUntil: number): void {
    this.status.leaseValidUntil = leaseValidUntil;
  }

  /** The lease was lost mid-term (`reason`): standing by. */
  leaseLost(reason: string): void {
    Object.assign(this.status, { role: 'standby', leaseValidUntil: null, lastError: error(reason) });
  }

  /** The term ended (or another replica holds the lease). */
  standingBy(): void {
    this.status.leaseValidUntil = null;
    if (this.status.role === 'leader') this.status.role = 'standby';
  }

  /** A term of `epoch` began (its epoch taken). */
  termStarted(epoch: number): void {
    Object.assign(this.status, { epoch, leaderTerms: this.status.leaderTerms + 1 });
  }

  /** A term failed on an error no policy covers: `restarting` until the elector campaigns again. */
  restarting({ reason, attempt, since, delayMs }: CampaignFailure): void {
    const now = new Date();
    Object.assign(this.status, {
      role: 'restarting',
      restart: { reason, attempt, since, retryAt: new Date(now.getTime() + delayMs) },
      restarts: this.status.restarts + 1,
      lastError: error(reason, now),
    });
  }

  /** Campaigning again after a restart. */
  resumed(): void {
    Object.assign(this.status, { role: 'standby', restart: null });
  }

  /** A policy stopped the stream for good (history lost with 'fail', a refused event, ...). */
  stoppedByPolicy(reason: string): void {
    Object.assign(this.status, { role: 'stopped', stoppedReason: reason, lastError: error(reason) });
  }

  /** Graceful stop: a stream a policy stopped stays `stopped`. */
  shutDown(): void {
    if (this.status.role !== 'stopped') Object.assign(this.status, { role: 'standby', restart: null });
  }

  /** A change-stream read returned (an event or an empty getMore). */
  readReturned(): void {
    this.status.lastReadAt = new Date();
  }

  /** An event was read and queued. */
  eventRead(): void {
    this.status.eventsRead++;
  }

  /** An event could not be published (stopped on, or dead-lettered: relay.onUnpublishable). */
  unpublishable(): void {
    this.status.unpublishableEvents++;
  }

  /** The change stream failed and reopens after a backoff. */
  readFailed(cause: unknown): void {
    this.status.lastError = error(cause);
  }

  /** The term's producer connected: nothing waits on the connection any more. */
  producerConnected(): void {
    Object.assign(this.status, { publishWaitingSince: null, consecutivePublishFailures: 0 });
  }

  /** A producer connection failed (retried): counts as a stalled publish since `since`. */
  producerConnectFailed(cause: unknown, since: Date): void {
    this.status.publishWaitingSince ??= since;
    this.status.consecutivePublishFailures++;
    this.status.lastError = error(cause);
  }

  /** What is read but not yet acknowledged; the oldest of it was read at `oldestReadAt`. */
  inFlight(events: number, bytes: number, oldestReadAt: number | null): void {
    Object.assign(this.status, { inFlightEvents: events, inFlightBytes: bytes });
    this.reportCheckpointLag(oldestReadAt);
  }

  /** A send's attempt starts (the first one starts the publish wait). */
  sendStarted(): void {
    this.status.publishWaitingSince ??= new Date();
  }

  /** A send's attempt failed. */
  sendFailed(cause: unknown): void {
    this.status.lastError = error(cause);
    this.status.publishFailures++;
    this.status.consecutivePublishFailures++;
  }

  /** Kafka acknowledged a batch of `events` whose oldest was read at `oldestReadAt`. */
  published(events: number, oldestReadAt: number | null): void {
    this.status.publishWaitingSince = null;
    this.status.consecutivePublishFailures = 0;
    this.unsavedReadAt ??= oldestReadAt;
    if (events === 0) return;
    this.status.eventsPublished += events;
    this.status.batchesPublished++;
    this.status.lastBatchSize = events;
    this.status.lastPublishedAt = new Date();
  }

  /** Exactly-once: a transaction (events and checkpoint record) committed. */
  transactionCommitted(): void {
    this.status.lastTransactionAt = new Date();
  }

  /** A checkpoint covering every acknowledged event was saved; `oldestQueuedReadAt`: what waits still. */
  checkpointed(oldestQueuedReadAt: number | null): void {
    this.unsavedReadAt = null;
    this.reportCheckpointLag(oldestQueuedReadAt);
    this.status.lastCheckpointAt = new Date();
    this.status.checkpointsWritten++;
  }

  /** A checkpoint write failed (retried at the next one). */
  checkpointFailed(cause: unknown): void {
    this.status.lastError = error(cause);
  }

  /** The relay session ended: nothing of it waits any more. */
  sessionEnded(): void {
    this.unsavedReadAt = null;
    Object.assign(this.status, {
      publishWaitingSince: null,
      consecutivePublishFailures: 0,
      checkpointPendingSince: null,
    });
  }

  /** The checkpoint lag starts at the oldest unsaved event, else the oldest one still queued. */
  private reportCheckpointLag(oldestQueuedReadAt: number | null): void {
    const since = this.unsavedReadAt ?? oldestQueuedReadAt;
    this.status.checkpointPendingSince = since === null ? null : new Date(since);
  }
}

/** The status' `lastError` of `cause` (an error, or a reason). */
function error(cause: unknown, at = new Date()): StreamStatus['lastError'] {
  const message = typeof cause === 'string' ? cause : (cause as Error).message;
  return { message, at };
}
