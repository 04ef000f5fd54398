import type { BatchDispatchReport } from './dispatch-report';

/** Handler time a shared transaction should hold, about: long transactions conflict more and redo more. */
export const SHARED_TRANSACTION_TARGET_MS = 200;

/**
 * How many messages of one partition go into the next shared transaction: at most `batchSize`, about
 * {@link SHARED_TRANSACTION_TARGET_MS} of handler time (from a moving average of the time per message),
 * halved after a shared transaction failed for a reason no handler caused (a write conflict with
 * another worker, a redelivery), and doubled back after each one that committed. Internal.
 */
export class BatchSizing {
  private limit: number;
  private msPerMessage = 0;

  constructor(private readonly batchSize: number) {
    this.limit = batchSize;
  }

  size(): number {
    const byTime =
      this.msPerMessage > 0 ? Math.floor(SHARED_TRANSACTION_TARGET_MS / this.msPerMessage) : this.batchSize;
    return Math.max(1, Math.min(this.limit, byTime));
  }

  record(result: BatchDispatchReport, elapsedMs: number): void {
    if (result.fellBack) this.limit = Math.max(1, Math.floor(this.limit / 2));
    else if (result.shared > 0) this.limit = Math.min(this.batchSize, this.limit * 2);
    const messages = result.reports.length;
    if (messages === 0 || result.fellBack) return;
    const sample = elapsedMs / messages;
    this.msPerMessage = this.msPerMessage === 0 ? sample : this.msPerMessage * 0.7 + sample * 0.3;
  }
}
