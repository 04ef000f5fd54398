/**
 * A ChangeStreamModule option is missing or has a value it does not accept. Thrown at start-up;
 * `option` is the path of the bad option (for example `lease.ttlMs` or `streams[1].collection`).
 */
export class InvalidOptionsError extends Error {
  constructor(
    readonly option: string,
    readonly expected: string,
    readonly received: unknown,
  ) {
    super(`Invalid ChangeStreamModule option "${option}": expected ${expected}, got ${describe(received)}`);
    this.name = 'InvalidOptionsError';
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
