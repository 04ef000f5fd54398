/**
 * Lets a worker's shared transactions run side by side, except one retried after a write conflict:
 * that one runs alone. MongoDB refuses a transaction's write to a document another open transaction
 * wrote (WriteConflict, at once, no waiting), so partitions whose events touch the same documents
 * (a customer's stats, fed by orders on every partition) keep failing each other while they overlap;
 * run alone, the retry meets no other transaction of this worker. Transactions that do not conflict
 * never wait for one another. A waiting retry goes before transactions that have not started.
 */
export class ConflictGate {
  private running = 0;
  private alone = false;
  private retriesWaiting = 0;
  private waiters: Array<() => void> = [];

  /** Runs `run` beside the other transactions of this gate (after any retry waiting to run alone). */
  async beside<T>(run: () => Promise<T>): Promise<T> {
    while (this.alone || this.retriesWaiting > 0) await this.changed();
    this.running++;
    try {
      return await run();
    } finally {
      this.running--;
      this.wake();
    }
  }

  /** Runs `run` once no other transaction of this gate runs, and keeps the others out meanwhile. */
  async byItself<T>(run: () => Promise<T>): Promise<T> {
    this.retriesWaiting++;
    try {
      while (this.alone || this.running > 0) await this.changed();
    } finally {
      this.retriesWaiting--;
    }
    this.alone = true;
    try {
      return await run();
    } finally {
      this.alone = false;
      this.wake();
    }
  }

  private changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
