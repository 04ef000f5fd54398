/**
 * Nothing ends the lease campaign but a stop: a lease that misbehaves (rejects with no error, a
 * renewal or release that throws something that is not an Error) or leader work that fails makes the
 * elector back off, say so through its observer, and campaign again.
 */
import type { LoggerService } from '@nestjs/common';
import { LeaderElector, type CampaignFailure, type ElectionTimings } from './leader-elector';
import type { Lease } from './lease.interface';

const timings: ElectionTimings = {
  ttlMs: 3_000,
  renewIntervalMs: 1_000,
  safetyMarginMs: 600,
  retryIntervalMs: 300,
  retryJitterMs: 0,
};
// NOTE: with debug, as Nest's Logger has: the elector's debug lines are built, not skipped.
const silent: LoggerService = {
  log: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
};

/** A lease that grants at once; each method can be replaced by the test. */
class FakeLease implements Lease {
  readonly name = 'test';
  validUntil = 0;
  acquire = jest.fn(async () => {
    this.validUntil = Date.now() + timings.ttlMs;
    return true;
  });
  renew = jest.fn(async () => {
    this.validUntil = Date.now() + timings.ttlMs;
    return true;
  });
  release = jest.fn(async () => {
    this.validUntil = 0;
  });
}

/** Starts an elector whose terms last until the lease is lost; records terms and what the observer heard. */
function campaign(lease: FakeLease, work?: () => Promise<'campaign'>) {
  const failures: CampaignFailure[] = [];
  let resumed = 0;
  const elector = new LeaderElector(lease, timings, silent, {
    onFailed: (failure) => failures.push(failure),
    onResumed: () => resumed++,
  });
  let terms = 0;
  elector.start(async (term) => {
    terms++;
    if (work) return work();
    if (!term.signal.aborted) await new Promise((resolve) => term.signal.addEventListener('abort', resolve));
    return 'campaign';
  });
  return { elector, failures, terms: () => terms, resumed: () => resumed };
}

// Every group in this file runs on fake timers.
beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
afterEach(() => jest.useRealTimers());

describe('LeaderElector keeps campaigning (a lease that misbehaves)', () => {
  it('when acquiring rejects with no error at all (a client calling reject())', async () => {
    const lease = new FakeLease();
    lease.acquire.mockImplementationOnce(() => Promise.reject(undefined));
    const c = campaign(lease);
    await jest.advanceTimersByTimeAsync(2_000);
    expect(c.terms()).toBe(1);
    void c.elector.stop();
    await jest.advanceTimersByTimeAsync(0);
  });

  it('when a renewal rejects with something that is not an Error', async () => {
    const lease = new FakeLease();
    lease.renew.mockImplementationOnce(() => Promise.reject(null));
    const c = campaign(lease);
    await jest.advanceTimersByTimeAsync(timings.renewIntervalMs + 1);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(c.terms()).toBe(2);
    void c.elector.stop();
    await jest.advanceTimersByTimeAsync(0);
  });

  it('when a release rejects with something that is not an Error, and says so', async () => {
    const lease = new FakeLease();
    lease.release.mockImplementationOnce(() => Promise.reject(null));
    lease.renew.mockResolvedValueOnce(false);
    const c = campaign(lease);
    await jest.advanceTimersByTimeAsync(timings.renewIntervalMs + 1);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(c.terms()).toBe(2);
    void c.elector.stop();
    await jest.advanceTimersByTimeAsync(0);
  });

  it('when reading the lease validity throws: the term is lost, not left running without renewals', async () => {
    const lease = new FakeLease();
    let reads = 0;
    let validUntil = 0;
    Object.defineProperty(lease, 'validUntil', {
      get: () => {
        if (++reads === 1) throw new TypeError('validity unreadable');
        return validUntil;
      },
      set: (value: number) => (validUntil = value),
    });
    const c = campaign(lease);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(c.terms()).toBe(2);
    void c.elector.stop();
    await jest.advanceTimersByTimeAsync(0);
  });
});

describe('LeaderElector keeps campaigning (leader work that fails)', () => {
  it('after leader work that failed: reports the reason, the attempt and since when, then campaigns again', async () => {
    const lease = new FakeLease();
    let calls = 0;
    const c = campaign(lease, async () => {
      calls++;
      if (calls <= 2) throw new Error(`checkpoint store unreachable #${calls}`);
      return new Promise<'campaign'>(() => undefined);
    });
    await jest.advanceTimersByTimeAsync(1);
    expect(c.failures).toEqual([
      {
        reason: expect.stringContaining('checkpoint store unreachable #1'),
        attempt: 1,
        since: new Date(1_000_000),
        delayMs: expect.any(Number),
      },
    ]);
    expect(c.resumed()).toBe(0);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(c.failures).toHaveLength(2);
    expect(c.failures[1]).toMatchObject({ attempt: 2, since: new Date(1_000_000) });
    expect(c.failures[1].delayMs).toBeGreaterThan(timings.retryIntervalMs);
    expect(c.resumed()).toBe(2);
    expect(c.terms()).toBe(3);
    void c.elector.stop();
    await jest.advanceTimersByTimeAsync(0);
  });
});
