import type { BatchDispatchReport } from './dispatch-report';

/** Handler time a shared transaction should hold, about: long transactions conflict more and redo more. */
export const SHARED_TRANSACTION_TARGET_MS = 200;

/** Recent chunks the time model is fitted on. */
const SAMPLES = 8;

/** A chunk's time, split into what any transaction costs and what each message adds. */
interface TimeModel {
  fixedMs: number;
  perMessageMs: number;
}

/**
 * How many messages of one partition go into the next shared transaction: at most `batchSize`;
 * halved after a shared transaction failed for a reason no handler caused (a write conflict with
 * another worker, a redelivery), and doubled back after each one that committed. Within that, the
 * time model of recent chunks (time = fixed + per message x messages, a least-squares line) keeps
 * the per-message part near {@link SHARED_TRANSACTION_TARGET_MS}, or near the fixed part when that
 * is larger: a transaction's round trips cost the same for 1 message as for 100, so shrinking the
 * batch below that only multiplies them (and a loaded MongoDB makes each one slow). While every
 * recent chunk had the same size the line is unknown: a chunk slower than the target then tries
 * twice as many messages once, which tells the two parts apart. Internal.
 */
export class BatchSizing {
  private limit: number;
  private readonly samples: Array<{ messages: number; ms: number }> = [];

  constructor(private readonly batchSize: number) {
    this.limit = batchSize;
  }

  size(): number {
    return Math.max(1, Math.min(this.limit, this.byTime()));
  }

  record(result: BatchDispatchReport, elapsedMs: number): void {
    if (result.fellBack) this.limit = Math.max(1, Math.floor(this.limit / 2));
    else if (result.shared > 0) this.limit = Math.min(this.batchSize, this.limit * 2);
    const messages = result.reports.length;
    if (messages === 0 || result.fellBack) return;
    this.samples.push({ messages, ms: elapsedMs });
    if (this.samples.length > SAMPLES) this.samples.shift();
  }

  private byTime(): number {
    if (this.samples.length === 0) return this.batchSize;
    const model = fit(this.samples);
    if (model) {
      if (model.perMessageMs <= 0) return this.batchSize;
      const budget = Math.max(SHARED_TRANSACTION_TARGET_MS - model.fixedMs, model.fixedMs);
      return Math.floor(budget / model.perMessageMs);
    }
    // NOTE: one size only: as if it were all per message, unless that is over the target and a bigger try is left.
    const messages = this.samples[0].messages;
    const ms = this.samples.reduce((sum, s) => sum + s.ms, 0) / this.samples.length;
    if (ms > SHARED_TRANSACTION_TARGET_MS && messages < this.limit) return messages * 2;
    return Math.floor((SHARED_TRANSACTION_TARGET_MS * messages) / ms);
  }
}

/** The least-squares line through the samples, or undefined while they all have one size. */
function fit(samples: ReadonlyArray<{ messages: number; ms: number }>): TimeModel | undefined {
  const n = samples.length;
  const meanX = samples.reduce((sum, s) => sum + s.messages, 0) / n;
  const meanY = samples.reduce((sum, s) => sum + s.ms, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const { messages, ms } of samples) {
    sxx += (messages - meanX) ** 2;
    sxy += (messages - meanX) * (ms - meanY);
  }
  if (sxx === 0) return undefined;
  const perMessageMs = sxy / sxx;
  return { perMessageMs, fixedMs: Math.max(0, meanY - perMessageMs * meanX) };
}
