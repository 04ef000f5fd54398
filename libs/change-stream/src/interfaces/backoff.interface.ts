/**
 * An exponential backoff: the one shape of every delay option (`worker.retry`,
 * `@ChangeHandler({ retry })`, `relay.backoff`, `worker.restartBackoff`). The delay before retry
 * `n` (n >= 1) is `min(maxDelayMs, initialDelayMs * factor^(n-1))`; the relay's and the worker
 * restart's delays are then scaled by a random share between half and all of it, so replicas that
 * fail together do not retry in step.
 *
 * @example { initialDelayMs: 100, maxDelayMs: 30_000, factor: 2 }
 */
export interface BackoffPolicy {
  /** Delay before the first retry, in ms. */
  initialDelayMs: number;
  /** Upper bound of any delay, in ms (at least `initialDelayMs`). */
  maxDelayMs: number;
  /** Growth of the delay from one retry to the next (at least 1). */
  factor: number;
}

/**
 * A backoff option as users write it: every field optional. `initialMs` and `maxMs` are the names
 * `relay.backoff` and `worker.restartBackoff` used before 0.2, still accepted with a warning.
 */
export interface BackoffOptions extends Partial<BackoffPolicy> {
  /** @deprecated Since 0.2: use `initialDelayMs` (removed in the next minor version). */
  initialMs?: number;
  /** @deprecated Since 0.2: use `maxDelayMs` (removed in the next minor version). */
  maxMs?: number;
}
