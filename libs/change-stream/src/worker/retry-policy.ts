import type { BackoffPolicy } from '../interfaces/backoff.interface';
import { backoffCeiling } from '../utils/timers';

/**
 * Delay before retry number `retry` (1 = the wait after the first failed attempt): the library's
 * backoff without jitter, since retries of one partition are sequential (no herd to spread).
 */
export function retryDelay(policy: BackoffPolicy, retry: number): number {
  return backoffCeiling(retry - 1, policy);
}

const OUTAGE_ERRORS = new Set([
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoServerSelectionError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
]);

/**
 * True for errors that say MongoDB is unreachable rather than that the handler is wrong. Such a
 * failure does not use up the handler's attempts (the partition waits and retries), so an outage
 * does not dead-letter every event that arrives during it.
 */
export function isMongoOutage(error: unknown): boolean {
  for (let e = error as { name?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e.name === 'string' && OUTAGE_ERRORS.has(e.name)) return true;
    e = e.cause as typeof e;
  }
  return false;
}
