/** Validation primitives for the module options: each throws InvalidOptionsError naming the option path. Internal. */
import { InvalidOptionsError } from '../errors/invalid-options.error';

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
export const hasMethods = (value: unknown, ...names: string[]): boolean =>
  isObject(value) && names.every((name) => typeof value[name] === 'function');

/** A number within `[min, max]` (`max` Infinity: no upper bound) that passes `check`, or `fallback` when not set. */
function bounded(
  kind: 'an integer' | 'a number',
  check: (value: number) => boolean,
): (value: unknown, path: string, min: number, max: number, fallback: number) => number {
  return (value, path, min, max, fallback) => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !check(value) || value < min || value > max) {
      const accepted = max === Infinity ? `${kind} >= ${min}` : `${kind} from ${min} to ${max}`;
      throw new InvalidOptionsError(path, accepted, value);
    }
    return value;
  };
}

/** An integer within `[min, max]` (`max` Infinity: no upper bound), or `fallback` when not set. */
export const optionalInt = bounded('an integer', Number.isInteger);

/** A finite number within `[min, max]`, or `fallback` when not set. */
export const optionalNumber = bounded('a number', Number.isFinite);

/** A string with something else than spaces in it, or `fallback` when not set. */
export function optionalString<T extends string | undefined>(
  value: unknown,
  path: string,
  fallback: T,
): string | T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.trim().length === 0)
    throw new InvalidOptionsError(path, 'a non-empty string', value);
  return value;
}

export function optionalBoolean(value: unknown, path: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidOptionsError(path, 'true or false', value);
  return value;
}

export function optionalOneOf<T extends string>(
  value: unknown,
  path: string,
  accepted: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!accepted.includes(value as T))
    throw new InvalidOptionsError(path, `one of ${accepted.map((a) => `'${a}'`).join(', ')}`, value);
  return value as T;
}

export function name(value: unknown, path: string, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || /[\0$]/.test(value)) {
    throw new InvalidOptionsError(path, `${what}: a non-empty string without '$'`, value);
  }
  return value;
}

export function stringList(
  value: unknown,
  path: string,
  what: string,
  check: (item: string) => boolean = () => true,
): string[] {
  if (!Array.isArray(value) || value.length === 0)
    throw new InvalidOptionsError(path, `a non-empty array of ${what}`, value);
  value.forEach((item, i) => {
    if (typeof item !== 'string' || !check(item)) throw new InvalidOptionsError(`${path}[${i}]`, what, item);
  });
  return value as string[];
}

export function exactlyOne(section: Record<string, unknown>, path: string, keys: string[]): string {
  const given = keys.filter((key) => section[key] !== undefined);
  if (given.length !== 1) {
    const expected = `exactly one of ${keys.map((k) => `"${k}"`).join(', ')}`;
    throw new InvalidOptionsError(path, expected, given.length ? `${given.join(' and ')}` : undefined);
  }
  return given[0];
}

/**
 * The keys of an options interface as a list, written once and kept complete by the compiler: a
 * key missing from `keys`, or one the interface does not have, fails to compile.
 *
 * @example const LEASE_KEYS = optionKeys<LeaseOptions>({ store: true, ttlMs: true, ... });
 */
export function optionKeys<T>(keys: { [K in keyof Required<T>]: true }): string[] {
  return Object.keys(keys);
}

/** The object at `path`, whose keys must all be in `known` (a typo is an error, never a silent default). */
export function section(
  value: unknown,
  path: string,
  required: boolean,
  known?: readonly string[],
): Record<string, unknown> | undefined {
  if (value === undefined && !required) return undefined;
  if (!isObject(value)) throw new InvalidOptionsError(path || 'options', 'an object', value);
  const unknown = known && Object.keys(value).find((key) => !known.includes(key));
  if (unknown)
    throw new InvalidOptionsError(
      path ? `${path}.${unknown}` : unknown,
      `no such option (known: ${known.join(', ')})`,
      value[unknown],
    );
  return value;
}
