/** The one backoff shape of the options (retries, relay, worker restarts), and its old spelling. */
import { Logger } from '@nestjs/common';
import { MESSAGES } from '../change-stream.messages';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import type { BackoffPolicy } from '../interfaces/backoff.interface';
import type { RetryPolicy } from '../interfaces/worker-options.interface';
import { optionalInt, optionalNumber, optionKeys, section } from '../utils/option-validators';

/** Told of each deprecated option a configuration uses: its path and the one replacing it. */
export type DeprecationSink = (old: string, replacement: string) => void;

/** A sink that logs each deprecated option once (per resolution of the module options, i.e. per start-up). */
export function logDeprecations(logger: Pick<Logger, 'warn'> = new Logger('ChangeStream')): DeprecationSink {
  const told = new Set<string>();
  return (old, replacement) => {
    if (told.has(old)) return;
    told.add(old);
    logger.warn(MESSAGES.deprecatedOption(old, replacement));
  };
}

const BACKOFF_KEYS = optionKeys<BackoffPolicy>({ initialDelayMs: true, maxDelayMs: true, factor: true });
const RETRY_KEYS = optionKeys<RetryPolicy>({
  attempts: true,
  initialDelayMs: true,
  maxDelayMs: true,
  factor: true,
});
/** The names `relay.backoff` and `worker.restartBackoff` had before 0.2, and their replacements. */
const RENAMED: Readonly<Record<string, keyof BackoffPolicy>> = {
  initialMs: 'initialDelayMs',
  maxMs: 'maxDelayMs',
};
/** An hour: longer delays are typing errors. */
const MAX_DELAY_MS = 3_600_000;

/**
 * The fields of a backoff over `base`. `spelled` names each field as the user wrote it, so an error
 * points at the key in their configuration.
 */
function backoffFields(
  given: Record<string, unknown>,
  base: BackoffPolicy,
  minDelayMs: number,
  spelled: (key: keyof BackoffPolicy) => string,
): BackoffPolicy {
  const initialDelayMs = optionalInt(
    given.initialDelayMs,
    spelled('initialDelayMs'),
    minDelayMs,
    MAX_DELAY_MS,
    base.initialDelayMs,
  );
  return {
    initialDelayMs,
    maxDelayMs: optionalInt(
      given.maxDelayMs,
      spelled('maxDelayMs'),
      initialDelayMs,
      MAX_DELAY_MS,
      Math.max(initialDelayMs, base.maxDelayMs),
    ),
    factor: optionalNumber(given.factor, spelled('factor'), 1, Infinity, base.factor),
  };
}

/**
 * `relay.backoff` / `worker.restartBackoff` over `base`. The old keys `initialMs` / `maxMs` are
 * still accepted for one minor version: each is reported to `deprecated` (never both spellings of one field).
 */
export function resolveBackoff(
  value: unknown,
  path: string,
  base: BackoffPolicy,
  deprecated: DeprecationSink,
): BackoffPolicy {
  const given = section(value, path, false, [...BACKOFF_KEYS, ...Object.keys(RENAMED)]);
  if (!given) return base;
  const fields: Record<string, unknown> = { ...given };
  const written = new Map<string, string>();
  for (const [old, key] of Object.entries(RENAMED)) {
    if (given[old] === undefined) continue;
    if (given[key] !== undefined)
      throw new InvalidOptionsError(
        `${path}.${old}`,
        `nothing: "${path}.${key}" replaces it and is set`,
        given[old],
      );
    deprecated(`${path}.${old}`, `${path}.${key}`);
    fields[key] = given[old];
    written.set(key, old);
  }
  return backoffFields(fields, base, 1, (key) => `${path}.${written.get(key) ?? key}`);
}

/**
 * Validates a retry policy override and merges it over `base`. Used for the worker default and for
 * each handler's `retry` option (a delay of 0 is allowed: the retries of one partition are sequential).
 */
export function resolveRetryPolicy(
  override: Partial<RetryPolicy> | undefined,
  base: RetryPolicy,
  path: string,
): RetryPolicy {
  const given = section(override, path, false, RETRY_KEYS);
  if (!given) return base;
  return {
    attempts: optionalInt(given.attempts, `${path}.attempts`, 1, Infinity, base.attempts),
    ...backoffFields(given, base, 0, (key) => `${path}.${key}`),
  };
}
