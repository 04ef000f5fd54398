import type { LoggerService } from '@nestjs/common';
import { LeaseLostError } from '../errors/lease-lost.error';
import { MESSAGES } from '../change-stream.messages';
import { backoffDelay, sleep, withJitter, withTimeout } from '../utils/timers';
import type { Lease } from './lease.interface';
import { redactText } from '../utils/redact';

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

/** Observers of the campaign (the listener status). */
export interface ElectionObserver {
  onLeader?(validUntil: number): void;
  onRenewed?(validUntil: number): void;
  /** The lease was lost (renewal failed or validity ran short): the leader must already be stopping. */
  onLost?(reason: string): void;
  onStandby?(reason?: string): void;
}

/**
 * Campaigns for a lease and runs the leader's work while it holds it.
 *
 * Standbys retry every `retryIntervalMs` plus jitter. The leader renews every `renewIntervalMs`;
 * a failed or rejected renewal, or a validity shorter than `safetyMarginMs` (a renewal that hangs),
 * aborts the term's signal at once, well before the lease expires for the others.
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
    while (!stopped.aborted) {
      if (!(await this.tryAcquire())) {
        await sleep(withJitter(this.timings.retryIntervalMs, this.timings.retryJitterMs), stopped);
        continue;
      }
      const outcome = await this.serveTerm(lead);
      if (outcome === 'stop') return;
      // NOTE: a term whose work failed (e.g. MongoDB unreachable) backs off, so a broken replica neither spins nor hogs the lease.
      failures = outcome === 'failed' ? failures + 1 : 0;
      const pause = failures
        ? backoffDelay(failures - 1, { initialMs: this.timings.retryIntervalMs, maxMs: 30_000 })
        : 0;
      await sleep(pause + withJitter(this.timings.retryIntervalMs, this.timings.retryJitterMs), stopped);
    }
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
      this.logger.debug?.(`Lease "${this.lease.name}" not acquired: ${redactText((error as Error).message)}`);
      return false;
    }
  }

  private async serveTerm(lead: (term: LeaderTerm) => Promise<TermOutcome>): Promise<TermOutcome | 'failed'> {
    const lost = new AbortController();
    const term: LeaderTerm = {
      signal: lost.signal,
      validUntil: () => (lost.signal.aborted ? 0 : this.lease.validUntil),
    };
    const keepAlive = this.keepAlive(lost);
    this.observer.onLeader?.(this.lease.validUntil);
    let outcome: TermOutcome | 'failed' = 'campaign';
    try {
      outcome = await lead(term);
    } catch (error) {
      outcome = 'failed';
      this.logger.error(MESSAGES.leaderWorkFailed(this.lease.name, error));
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
    arm();
    try {
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
          return lose(`renewal failed: ${(error as Error).message}`);
        }
      }
    } finally {
      clearTimeout(watchdog);
    }
  }

  private async release(): Promise<void> {
    try {
      await withTimeout(this.lease.release(), this.timings.ttlMs, `releasing lease "${this.lease.name}"`);
    } catch (error) {
      this.logger.debug?.(
        `Lease "${this.lease.name}" not released (it expires by itself): ${(error as Error).message}`,
      );
    }
  }
}

function reasonOf(signal: AbortSignal): string | undefined {
  const reason = signal.reason as Error | undefined;
  return reason instanceof LeaseLostError ? reason.reason : reason?.message;
}
