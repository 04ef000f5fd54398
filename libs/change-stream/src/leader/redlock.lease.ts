import type Redlock from 'redlock';
import type { Lock } from 'redlock';
import type { Lease } from './lease.interface';

/**
 * The Redlock lease (redlock 5 over ioredis): a key `<keyPrefix>:<stream>` on a majority of
 * independent Redis servers. Redlock's own retries are off: the LeaderElector decides when to
 * retry, with jitter. Extending an already-expired lock rejects; the elector reads that as lost.
 */
export class RedlockLease implements Lease {
  private lock: Lock | null = null;

  constructor(
    private readonly redlock: Redlock,
    readonly name: string,
    private readonly ttlMs: number,
  ) {}

  get validUntil(): number {
    return this.lock?.expiration ?? 0;
  }

  async acquire(): Promise<boolean> {
    this.lock = await this.redlock.acquire([this.name], this.ttlMs, { retryCount: 0 });
    return true;
  }

  async renew(): Promise<boolean> {
    if (!this.lock) return false;
    const current = this.lock;
    try {
      this.lock = await this.redlock.extend(current, this.ttlMs, { retryCount: 0 });
      return true;
    } catch (error) {
      this.lock = null;
      throw error;
    }
  }

  async release(): Promise<void> {
    const lock = this.lock;
    this.lock = null;
    if (lock) await this.redlock.release(lock, { retryCount: 0 });
  }
}
