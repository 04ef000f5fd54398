import type { LoggerService } from '@nestjs/common';
import { LeaseLostError } from '../errors/lease-lost.error';
import { MESSAGES } from '../change-stream.messages';
import { LEASE_FAILURE_MAX_DELAY_MS } from '../options/defaults';
import { backoffDelay, sleep, withJitter, withTimeout } from '../utils/timers';
import type { Lease } from './lease.interface';
import { describeError } from '../worker/dead-letter';

/** Lease timings (see LeaseOptions for their meaning and defaults). */
export interface ElectionTimings {
  ttlMs: number;
  renewIntervalMs: number;
  safetyMarginMs: number;
  retryIntervalMs: number;
  retryJitterMs: number;
}

/** One period of leadership. `signal` aborts the moment the lease is lost: stop reading and publishing. */
export interface LeaderTerm {
  readonly signal: AbortSignal;
  /** Local time until which the lease is valid (0 once lost). */
  validUntil(): number;
}

/** What the leader's work asks for when it returns: campaign again, or stop for good (policy stop, shutdown). */
export type TermOutcome = 'campaign' | 'stop';

/** A term's work, or the campaign itself, failed on an error no policy covers: what the elector reports before backing off. */
export interface CampaignFailure {
  /** The error, described and redacted. */
  reason: string;
  /** Consecutive failures so far (1 for the first). */
  attempt: number;
  /** When the first of these consecutive failures happened. */
  since: Date;
  /** How long the elector waits before campaigning again. */
  delayMs: number;
}

/** Observers of the campaign (the relay status). */
export interface ElectionObserver {
  onLeader?(validUntil: number): void;
  onRenewed?(validUntil: number): void;
  /** The lease was lost (renewal failed or validity ran short): the leader must already be stopping. */
  onLost?(reason: string): void;
  onStandby?(reason?: string): void;
  /** The term's work or the campaign failed (see {@link CampaignFailure}); campaigning again after `delayMs`. */
  onFailed?(failure: CampaignFailure): void;
  /** Campaigning again after a failure's backoff. */
  onResumed?(): void;
}

/**
 * Campaigns for a lease and runs the leader's work while it holds it.
 *
 * Standbys retry every `retryIntervalMs` plus jitter. The leader renews every `renewIntervalMs`;
 * a failed or rejected renewal, or a validity shorter than `safetyMarginMs` (a renewal that hangs),
 * aborts the term's signal at once, well before the lease expires for the others.
 *
 * Only `stop()` or a term's work returning 'stop' ends the campaign: a term whose work throws, or any
 * unexpected error of the campaign itself (a lease that misbehaves), is reported to `onFailed`, backed
 * off (growing with consecutive failures) and followed by a new campaign.
 */
export class LeaderElector {
  private readonly stopping = new AbortController();
  private running?: Promise<void>;

  constructor(
    private readonly lease: Lease,
    private readonly timings: ElectionTimings,
    private readonly logger: LoggerService,
    private readonly observer: ElectionObserver = {},
  ) {}

  /** Starts campaigning in the background; `lead` runs for each won term. */
  start(lead: (term: LeaderTerm) => Promise<TermOutcome>): void {
    this.running ??= this.campaign(lead);
  }

  /** Stops campaigning (a running term is ended by its own work) and waits for the loop to finish. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
  }

  private async campaign(lead: (term: LeaderTerm) => Promise<TermOutcome>): Promise<void> {
    const stopped = this.stopping.signal;
    let failures = 0;
    let failingSince = new Date();
    while (!stopped.aborted) {
      let outcome: TermOutcome | 'standby' | { failed: unknown };
      try {
        outcome = await this.round(lead);
      } catch (error) {
        // NOTE: nothing but a stop may end the campaign: an unexpected error is a failed round.
        outcome = { failed: error };
      }
      if (outcome === 'stop') return;
      if (typeof outcome === 'object') {
        if (failures++ === 0) failingSince = new Date();
        await this.backOff(outcome.failed, failures, failingSince);
        continue;
      }
      if (outcome === 'campaign') failures = 0;
      await sleep(withJitter(this.timings.retryIntervalMs, this.timings.retryJitterMs), stopped);
    }
  }

  /** One round: acquire, and serve a term if won. */
  private async round(
    lead: (term: LeaderTerm) => Promise<TermOutcome>,
  ): Promise<TermOutcome | 'standby' | { failed: unknown }> {
    if (!(await this.tryAcquire())) return 'standby';
    return this.serveTerm(lead);
  }

  /** Reports a failure and waits before the next round, longer after each consecutive one. */
  private async backOff(error: unknown, attempt: number, since: Date): Promise<void> {
    // NOTE: a failing replica (e.g. MongoDB unreachable) backs off, so it neither spins nor hogs the lease.
    const { retryIntervalMs, retryJitterMs } = this.timings;
    const delayMs =
      backoffDelay(attempt - 1, {
        initialDelayMs: retryIntervalMs,
        maxDelayMs: LEASE_FAILURE_MAX_DELAY_MS,
        factor: 2,
      }) + withJitter(retryIntervalMs, retryJitterMs);
    const failure: CampaignFailure = { reason: describeError(error), attempt, since, delayMs };
    this.logger.error(MESSAGES.campaignFailed(this.lease.name, failure));
    this.observer.onFailed?.(failure);
    await sleep(delayMs, this.stopping.signal);
    if (!this.stopping.signal.aborted) this.observer.onResumed?.();
  }

  private async tryAcquire(): Promise<boolean> {
    // NOTE: a lock granted after the timeout is released at once so it does not block the others for a TTL.
    const late = (held: boolean) => held && void this.release();
    try {
      return await withTimeout(
        this.lease.acquire(),
        this.timings.ttlMs,
        `acquiring lease "${this.lease.name}"`,
        late,
      );
    } catch (error) {
      this.logger.debug?.(`Lease "${this.lease.name}" not acquired: ${describeError(error)}`);
      return false;
    }
  }

  private async serveTerm(
    lead: (term: LeaderTerm) => Promise<TermOutcome>,
  ): Promise<TermOutcome | { failed: unknown }> {
    const lost = new AbortController();
    const term: LeaderTerm = {
      signal: lost.signal,
      validUntil: () => (lost.signal.aborted ? 0 : this.lease.validUntil),
    };
    const keepAlive = this.keepAlive(lost);
    this.observer.onLeader?.(this.lease.validUntil);
    let outcome: TermOutcome | { failed: unknown } = 'campaign';
    try {
      outcome = await lead(term);
    } catch (error) {
      outcome = { failed: error };
    } finally {
      if (!lost.signal.aborted) lost.abort(new LeaseLostError(this.lease.name, 'term ended'));
      await keepAlive;
      await this.release();
      this.observer.onStandby?.(reasonOf(lost.signal));
    }
    return outcome;
  }

  /** Renews on schedule and aborts `lost` on failure or when validity runs short. */
  private async keepAlive(lost: AbortController): Promise<void> {
    const { renewIntervalMs, safetyMarginMs } = this.timings;
    const lose = (reason: string) => {
      if (lost.signal.aborted) return;
      this.logger.warn(MESSAGES.leaseLost(this.lease.name, reason));
      lost.abort(new LeaseLostError(this.lease.name, reason));
      this.observer.onLost?.(reason);
    };
    let watchdog: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(watchdog);
      const remaining = this.lease.validUntil - safetyMarginMs - Date.now();
      watchdog = setTimeout(() => lose('remaining validity below the safety margin'), Math.max(0, remaining));
    };
    try {
      arm();
      while (!lost.signal.aborted) {
        await sleep(renewIntervalMs, lost.signal);
        if (lost.signal.aborted) break;
        const budget = Math.max(1, this.lease.validUntil - safetyMarginMs - Date.now());
        try {
          const renewed = await withTimeout(
            this.lease.renew(),
            budget,
            `renewing lease "${this.lease.name}"`,
          );
          if (!renewed) return lose('renewal rejected: another replica holds it');
          if (lost.signal.aborted) break;
          arm();
          this.observer.onRenewed?.(this.lease.validUntil);
        } catch (error) {
          return lose(`renewal failed: ${describeError(error)}`);
        }
      }
    } catch (error) {
      // NOTE: a term must never outlive its renewals: whatever stops them ends the term.
      lose(`renewals stopped: ${describeError(error)}`);
    } finally {
      clearTimeout(watchdog);
    }
  }

  private async release(): Promise<void> {
    try {
      await withTimeout(this.lease.release(), this.timings.ttlMs, `releasing lease "${this.lease.name}"`);
    } catch (error) {
      this.logger.debug?.(
        `Lease "${this.lease.name}" not released (it expires by itself): ${describeError(error)}`,
      );
    }
  }
}

function reasonOf(signal: AbortSignal): string | undefined {
  const reason = signal.reason as Error | undefined;
  return reason instanceof LeaseLostError ? reason.reason : reason?.message;
}
