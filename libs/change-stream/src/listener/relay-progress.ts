import type { StreamStatus } from '../health/listener-status';

/**
 * Keeps the stream status' figures of what the relay waits on, which health compares with
 * `relay.maxPublishStallMs` and `relay.maxCheckpointLagMs`:
 * - `publishWaitingSince`: the first attempt of the send not yet acknowledged (retries keep it);
 * - `consecutivePublishFailures`: failed attempts since the last acknowledgement;
 * - `checkpointPendingSince`: when the oldest event not covered by a saved checkpoint was read.
 * All are cleared when nothing waits, so an idle leader reports nothing.
 */
export class RelayProgress {
  /** Read time of the oldest event acknowledged by Kafka but not yet checkpointed. */
  private unsavedReadAt: number | null = null;

  constructor(private readonly status: StreamStatus) {}

  /** A send's first attempt starts. */
  sendStarted(): void {
    this.status.publishWaitingSince ??= new Date();
  }

  /** An attempt failed (it is retried). */
  sendFailed(): void {
    this.status.consecutivePublishFailures++;
  }

  /** Kafka acknowledged a batch whose oldest event was read at `oldestReadAt`. */
  acknowledged(oldestReadAt: number | null): void {
    this.status.publishWaitingSince = null;
    this.status.consecutivePublishFailures = 0;
    this.unsavedReadAt ??= oldestReadAt;
  }

  /** A checkpoint covering every acknowledged event was saved. */
  checkpointed(): void {
    this.unsavedReadAt = null;
  }

  /** Updates the checkpoint lag's start from the oldest event still queued (unacknowledged). */
  report(oldestQueuedReadAt: number | null): void {
    const since = this.unsavedReadAt ?? oldestQueuedReadAt;
    this.status.checkpointPendingSince = since === null ? null : new Date(since);
  }

  /** The session ended: nothing of it waits any more. */
  clear(): void {
    this.unsavedReadAt = null;
    Object.assign(this.status, {
      publishWaitingSince: null,
      consecutivePublishFailures: 0,
      checkpointPendingSince: null,
    });
  }
}
