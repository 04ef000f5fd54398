import { redactOptionValue } from '../utils/redact';

/**
 * A ChangeStreamModule option is missing or has a value it does not accept. Thrown at start-up;
 * `option` is the path of the bad option (for example `lease.ttlMs` or `streams[1].collection`).
 * `received` is the value given, with credentials hidden: `<redacted>` for a credential option
 * (a password, a SASL or TLS setting), a string with the credentials of its URIs redacted.
 */
export class InvalidOptionsError extends Error {
  readonly received: unknown;

  constructor(
    readonly option: string,
    readonly expected: string,
    received: unknown,
  ) {
    const shown = redactOptionValue(option, received);
    super(`Invalid ChangeStreamModule option "${option}": expected ${expected}, got ${describe(shown)}`);
    this.name = 'InvalidOptionsError';
    this.received = shown;
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value && typeof value === 'object') return `an object (${value.constructor?.name ?? 'Object'})`;
  return String(value);
}
