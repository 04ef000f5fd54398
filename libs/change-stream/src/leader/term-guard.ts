import { LeaseLostError } from '../errors/lease-lost.error';
import type { LeaderTerm } from './leader-elector';

/**
 * A leadership term as the leader's work must see it: over as soon as the elector aborts it, or as
 * soon as a check finds less than `safetyMarginMs` of validity left, whichever comes first. The
 * second matters after a pause (a GC, SIGSTOP, a slow event loop): the lease watchdog's timer has
 * not run yet, but the clock already says the lease is (nearly) gone. Either way `signal` aborts
 * once, so everything tied to the term (reading, sending, the producer) stops at the same moment.
 */
export class TermGuard implements LeaderTerm {
  private readonly lost = new AbortController();

  constructor(
    private readonly term: LeaderTerm,
    /** The lease's name (in the abort reason). */
    private readonly name: string,
    private readonly safetyMarginMs: number,
    private readonly now: () => number = Date.now,
  ) {
    if (term.signal.aborted) this.lost.abort(term.signal.reason);
    else term.signal.addEventListener('abort', () => this.lost.abort(term.signal.reason), { once: true });
  }

  /** Aborts when the term ends or a {@link stillValid} check found its validity gone. */
  get signal(): AbortSignal {
    return this.lost.signal;
  }

  /** The lease's local validity (0 once lost). */
  validUntil(): number {
    return this.lost.signal.aborted ? 0 : this.term.validUntil();
  }

  /**
   * True while the lease is valid for more than the safety margin. The first false aborts
   * {@link signal}. Synchronous, so a caller can check right before a write with nothing in between.
   */
  stillValid(): boolean {
    if (this.lost.signal.aborted) return false;
    if (this.now() < this.validUntil() - this.safetyMarginMs) return true;
    this.lost.abort(new LeaseLostError(this.name, 'validity below the safety margin'));
    return false;
  }
}
