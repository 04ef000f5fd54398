import { isMongoOutage, retryDelay } from './retry-policy';

describe('retryDelay', () => {
  const policy = { attempts: 6, initialDelayMs: 100, maxDelayMs: 1000, factor: 3 };

  it('grows by the factor from the initial delay and stops at the maximum', () => {
    expect([1, 2, 3, 4, 5].map((n) => retryDelay(policy, n))).toEqual([100, 300, 900, 1000, 1000]);
  });

  it('is constant with factor 1 and zero with no delay', () => {
    expect(retryDelay({ ...policy, factor: 1 }, 4)).toBe(100);
    expect(retryDelay({ ...policy, initialDelayMs: 0 }, 3)).toBe(0);
  });

  it('stays finite for huge retry numbers', () => {
    expect(retryDelay({ ...policy, factor: 10 }, 10_000)).toBe(1000);
  });
});

describe('isMongoOutage', () => {
  const named = (name: string, cause?: unknown) => Object.assign(new Error(name), { name, cause });

  it('recognises the driver errors that mean MongoDB is unreachable, also as a cause', () => {
    expect(isMongoOutage(named('MongoServerSelectionError'))).toBe(true);
    expect(isMongoOutage(named('MongoNetworkError'))).toBe(true);
    expect(isMongoOutage(named('Error', named('MongoNetworkTimeoutError')))).toBe(true);
  });

  it('leaves handler errors and server errors to the retry budget', () => {
    expect(isMongoOutage(new TypeError('boom'))).toBe(false);
    expect(isMongoOutage(named('MongoServerError'))).toBe(false);
    expect(isMongoOutage(undefined)).toBe(false);
    expect(isMongoOutage('a string')).toBe(false);
  });
});
