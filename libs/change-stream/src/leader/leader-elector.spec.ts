import type { LoggerService } from '@nestjs/common';
import { ExecutionError } from 'redlock';
import { LeaseLostError } from '../errors/lease-lost.error';
import { LeaderElector, type ElectionTimings, type LeaderTerm } from './leader-elector';
import type { Lease } from './lease.interface';

const timings: ElectionTimings = {
  ttlMs: 3_000,
  renewIntervalMs: 1_000,
  safetyMarginMs: 600,
  retryIntervalMs: 300,
  retryJitterMs: 200,
};
const silent: LoggerService = {
  log: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
};

/** A lease whose store the test scripts: `available` says whether acquire wins, `renewWith` what renew does. */
class ScriptedLease implements Lease {
  readonly name = 'test';
  available = true;
  held = false;
  validUntil = 0;
  acquires = 0;
  renewals = 0;
  releases = 0;
  renewWith: () => Promise<boolean> = async () => true;

  async acquire(): Promise<boolean> {
    this.acquires++;
    if (!this.available) return false;
    this.held = true;
    this.validUntil = Date.now() + timings.ttlMs - 32;
    return true;
  }
  async renew(): Promise<boolean> {
    this.renewals++;
    const ok = await this.renewWith();
    if (ok) this.validUntil = Date.now() + timings.ttlMs - 32;
    return ok;
  }
  async release(): Promise<void> {
    this.releases++;
    this.held = false;
    this.validUntil = 0;
  }
}

/** Runs an elector whose leader work waits for the term to end and records when it ended. */
function elect(lease: ScriptedLease) {
  const elector = new LeaderElector(lease, timings, silent);
  const terms: Array<{ term: LeaderTerm; lostAt?: number; reason?: string }> = [];
  let outcome: 'campaign' | 'stop' = 'campaign';
  elector.start(
    (term) =>
      new Promise((resolve) => {
        const record: (typeof terms)[number] = { term };
        terms.push(record);
        term.signal.addEventListener('abort', () => {
          record.lostAt = Date.now();
          record.reason = (term.signal.reason as LeaseLostError).reason;
          resolve(outcome);
        });
      }),
  );
  return { elector, terms, stopAfterTerm: () => (outcome = 'stop') };
}

// Every group in this file runs on fake timers.
beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
afterEach(() => jest.useRealTimers());

describe('LeaderElector: campaigning and renewing', () => {
  it('retries as a standby with jitter until the lease is free, then leads', async () => {
    const lease = new ScriptedLease();
    lease.available = false;
    const { elector, terms } = elect(lease);
    await jest.advanceTimersByTimeAsync(2_000);
    expect(terms).toHaveLength(0);
    // 2 s at one attempt every 300-500 ms: between 4 and 7 attempts, never a tight loop.
    expect(lease.acquires).toBeGreaterThanOrEqual(4);
    expect(lease.acquires).toBeLessThanOrEqual(7);
    lease.available = true;
    await jest.advanceTimersByTimeAsync(500);
    expect(terms).toHaveLength(1);
    expect(terms[0].term.signal.aborted).toBe(false);
    void elector.stop();
    await jest.advanceTimersByTimeAsync(0);
  });

  it('renews every renewIntervalMs while leading', async () => {
    const lease = new ScriptedLease();
    const { elector, terms, stopAfterTerm } = elect(lease);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(terms).toHaveLength(1);
    expect(terms[0].term.signal.aborted).toBe(false);
    expect(lease.renewals).toBe(10);
    stopAfterTerm();
    const stopped = elector.stop();
    // Stopping the campaign alone does not end a term: the leader's work drains first.
    expect(terms[0].term.signal.aborted).toBe(false);
    lease.renewWith = async () => false;
    await jest.advanceTimersByTimeAsync(1_000);
    await stopped;
    expect(lease.releases).toBe(1);
  });
});

describe('LeaderElector: losing the lease', () => {
  it('aborts the term at once when a renewal is rejected', async () => {
    const lease = new ScriptedLease();
    const { elector, terms } = elect(lease);
    await jest.advanceTimersByTimeAsync(1);
    const wonAt = Date.now();
    lease.renewWith = async () => false;
    await jest.advanceTimersByTimeAsync(1_000);
    expect(terms[0].lostAt).toBe(wonAt + 999);
    expect(terms[0].reason).toMatch(/renewal rejected/);
    expect(terms[0].term.validUntil()).toBe(0);
    void elector.stop();
    await jest.advanceTimersByTimeAsync(0);
  });

  it('treats a renewal that throws (redlock: extending an expired lock) as a lost lease, not a crash', async () => {
    const lease = new ScriptedLease();
    const { elector, terms } = elect(lease);
    await jest.advanceTimersByTimeAsync(1);
    lease.renewWith = async () => {
      throw new ExecutionError('Cannot extend an already-expired lock.', []);
    };
    await jest.advanceTimersByTimeAsync(1_000);
    expect(terms[0].reason).toMatch(/renewal failed: ExecutionError: Cannot extend an already-expired lock/);
    // And it campaigns again afterwards.
    await jest.advanceTimersByTimeAsync(1_000);
    expect(terms).toHaveLength(2);
    void elector.stop();
    await jest.advanceTimersByTimeAsync(0);
  });

  it('stops leading before the lease expires when a renewal hangs', async () => {
    const lease = new ScriptedLease();
    const { elector, terms } = elect(lease);
    await jest.advanceTimersByTimeAsync(1);
    const expiresAt = lease.validUntil;
    lease.renewWith = () => new Promise(() => undefined);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(terms[0].lostAt).toBeDefined();
    expect(terms[0].lostAt!).toBeLessThanOrEqual(expiresAt - timings.safetyMarginMs);
    expect(terms[0].reason).toMatch(/below the safety margin|did not finish/);
    void elector.stop();
    await jest.advanceTimersByTimeAsync(0);
  });
});

describe('LeaderElector: when the leader work ends', () => {
  it('releases the lease when the leader work ends, and stops campaigning on "stop"', async () => {
    const lease = new ScriptedLease();
    const elector = new LeaderElector(lease, timings, silent);
    let runs = 0;
    elector.start(async () => {
      runs++;
      return 'stop';
    });
    await jest.advanceTimersByTimeAsync(5_000);
    expect(runs).toBe(1);
    expect(lease.releases).toBe(1);
    expect(lease.held).toBe(false);
    await elector.stop();
  });

  it('backs off after leader work that fails, instead of spinning', async () => {
    const lease = new ScriptedLease();
    const elector = new LeaderElector(lease, timings, silent);
    let runs = 0;
    elector.start(async () => {
      runs++;
      throw new Error('MongoDB unreachable');
    });
    await jest.advanceTimersByTimeAsync(10_000);
    // Without backoff: one run every 300-500 ms (20+). With it the pauses grow: 0.45, 0.9, 1.8, 3.6 s ...
    expect(runs).toBeGreaterThanOrEqual(3);
    expect(runs).toBeLessThanOrEqual(8);
    expect(lease.releases).toBe(runs);
    void elector.stop();
    await jest.advanceTimersByTimeAsync(0);
  });
});
