import { backoffCeiling, backoffDelay, sleep, TimeoutError, withJitter, withTimeout } from './timers';

describe('timers', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('backoffDelay grows exponentially, is capped, and keeps at least half of its ceiling', () => {
    const bounds = { initialDelayMs: 100, maxDelayMs: 1_000, factor: 2 };
    expect([0, 1, 2, 3, 4, 10].map((n) => backoffDelay(n, bounds, () => 0))).toEqual([
      50, 100, 200, 400, 500, 500,
    ]);
    expect([0, 1, 2, 3, 4, 10].map((n) => backoffDelay(n, bounds, () => 0.999999))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
    expect(backoffDelay(1_000, bounds, () => 0.5)).toBe(750);
  });

  it('backoffCeiling is the deterministic delay: any factor, capped, zero stays zero', () => {
    const policy = { initialDelayMs: 100, maxDelayMs: 1_000, factor: 3 };
    expect([0, 1, 2, 3, 64, 1_000].map((n) => backoffCeiling(n, policy))).toEqual([
      100, 300, 900, 1_000, 1_000, 1_000,
    ]);
    expect(backoffCeiling(-1, policy)).toBe(100);
    expect(backoffCeiling(200, { initialDelayMs: 0, maxDelayMs: 0, factor: 1e10 })).toBe(0);
  });

  it('withJitter adds up to `jitter`', () => {
    expect(withJitter(300, 200, () => 0)).toBe(300);
    expect(withJitter(300, 200, () => 0.999)).toBe(499);
  });

  it('sleep resolves after the time, or at once on abort', async () => {
    const done = jest.fn();
    void sleep(1_000).then(done);
    await jest.advanceTimersByTimeAsync(999);
    expect(done).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(1);
    expect(done).toHaveBeenCalled();

    const aborted = jest.fn();
    const controller = new AbortController();
    void sleep(60_000, controller.signal).then(aborted);
    controller.abort();
    await jest.advanceTimersByTimeAsync(0);
    expect(aborted).toHaveBeenCalled();
  });

  it('withTimeout rejects with TimeoutError and hands a late result to onLate', async () => {
    let settle!: (v: string) => void;
    const late = jest.fn();
    const result = withTimeout(new Promise<string>((r) => (settle = r)), 100, 'acquiring', late);
    const assertion = expect(result).rejects.toThrow(new TimeoutError('acquiring', 100));
    await jest.advanceTimersByTimeAsync(100);
    await assertion;
    settle('lock');
    await jest.advanceTimersByTimeAsync(0);
    expect(late).toHaveBeenCalledWith('lock');
  });
});
