/**
 * How the chaos run follows the read models: it holds the writer while it is too far ahead of what
 * was applied, and waits for the read models to catch up before judging them.
 */
import type { Verdict } from './verdict';

/** The consumer group session timeout of the run's replicas (ms). */
export const SESSION_TIMEOUT_MS = 6_000;
/** mongod's default transactionLifetimeLimitSeconds, in ms (the stand-in's too). */
const TRANSACTION_LIFETIME_MS = 60_000;

/**
 * Holds the writer while it is more than `maxLag` events ahead of the applied ones. Gives way when
 * nothing was applied for `stallMs` (the run must not hang on a stuck worker: the check reports it).
 */
export class Backpressure {
  private applied = 0;
  private readAt = 0;
  private progressAt = Date.now();
  private reading?: Promise<void>;
  /** ms the writer spent held. */
  heldMs = 0;

  constructor(
    private readonly count: () => Promise<number>,
    private readonly maxLag: number,
    private readonly stallMs = 60_000,
  ) {}

  async wait(position: number): Promise<void> {
    const start = Date.now();
    while (position - this.applied > this.maxLag && Date.now() - this.progressAt < this.stallMs) {
      await this.read();
      if (position - this.applied > this.maxLag) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    this.heldMs += Date.now() - start;
  }

  private read(): Promise<void> {
    if (this.reading || Date.now() - this.readAt < 100) return this.reading ?? Promise.resolve();
    this.readAt = Date.now();
    this.reading = this.count()
      .then((n) => {
        if (n > this.applied) [this.applied, this.progressAt] = [n, Date.now()];
      })
      .catch(() => undefined)
      .finally(() => (this.reading = undefined));
    return this.reading;
  }
}

/**
 * Waits until the read models can be judged, then judges them: until `applied` (the customers'
 * eventsApplied counters, cheap: a full check reads every order and view, and would slow the
 * in-process MongoDB stand-in down for everyone) reaches the events written, or stops moving for a
 * while, or the time is up.
 */
export async function quiet(options: {
  check: () => Promise<Verdict>;
  applied: () => Promise<number>;
  written: number;
  timeoutMs: number;
  leaseTtlMs: number;
  log: (line: string) => void;
}): Promise<{ verdict: Verdict; clean: boolean; why: string }> {
  const { check, applied, written, timeoutMs, log } = options;
  // NOTE: a worker killed mid-transaction leaves it open on the server, holding the documents it wrote,
  // until MongoDB aborts it (transactionLifetimeLimitSeconds, 60 s): their redelivery waits that long.
  const stillFor = Math.max(TRANSACTION_LIFETIME_MS + 15_000, 4 * options.leaseTtlMs, 4 * SESSION_TIMEOUT_MS);
  const deadline = Date.now() + timeoutMs;
  let last: number | undefined;
  let since = Date.now();
  let lastLog = Date.now();
  const clean = (v: Verdict) => v.mismatches.length === 0 && !v.lostEvents && !v.duplicateEffects;
  for (;;) {
    const timedOut = Date.now() > deadline;
    const count = await applied().catch(() => -1);
    if (count !== last) [last, since] = [count, Date.now()];
    const stalled = Date.now() - since > stillFor;
    if (count >= written || stalled || timedOut) {
      const verdict = await check();
      if (clean(verdict)) return { verdict, clean: true, why: '' };
      if (count >= written)
        return { verdict, clean: false, why: 'the check failed with every event applied' };
      return {
        verdict,
        clean: false,
        why: stalled
          ? `no event was applied for ${stillFor} ms (${count}/${written} applied)`
          : `the read models did not catch up within ${timeoutMs} ms (${count}/${written} applied)`,
      };
    }
    if (Date.now() - lastLog >= 10_000) {
      lastLog = Date.now();
      log(`  ${count}/${written} events applied to the read models`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}
