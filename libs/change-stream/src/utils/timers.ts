/** Timing helpers: sleeps, timeouts, and the one backoff of the library. Internal. */
import type { BackoffPolicy } from '../interfaces/backoff.interface';

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** `base` plus a uniform random share of `jitter`, so replicas retrying together drift apart. */
export function withJitter(base: number, jitter: number, random: () => number = Math.random): number {
  return base + Math.floor(random() * jitter);
}

/**
 * The delay before retry `attempt` (0-based) of a backoff without jitter:
 * `min(maxDelayMs, initialDelayMs * factor^attempt)`. The handlers' retries use it as it is (the
 * retries of one partition are sequential: there is no herd to spread).
 */
export function backoffCeiling(
  attempt: number,
  { initialDelayMs, maxDelayMs, factor }: BackoffPolicy,
): number {
  // NOTE: 0 * Infinity is NaN: a zero delay stays zero however large the exponent.
  if (initialDelayMs <= 0) return 0;
  return Math.min(maxDelayMs, initialDelayMs * factor ** Math.max(0, Math.min(attempt, 64)));
}

/**
 * The delay before retry `attempt` (0-based): {@link backoffCeiling} scaled by a random factor in
 * [0.5, 1) ("equal jitter"), so it grows, stays bounded, and replicas do not retry in step.
 */
export function backoffDelay(
  attempt: number,
  backoff: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = backoffCeiling(attempt, backoff);
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

/** Error thrown by {@link withTimeout}. */
export class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not finish within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/**
 * Races `promise` against a timer. On timeout it rejects with TimeoutError and hands the late
 * result, if it ever comes, to `onLate` (for example to release a lock acquired too late).
 */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  onLate?: (value: T) => void,
): Promise<T> {
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(new TimeoutError(what, ms));
    }, ms);
  });
  promise.then(
    (value) => timedOut && onLate?.(value),
    () => undefined,
  );
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
