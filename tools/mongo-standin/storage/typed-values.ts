/**
 * BSON types as the stand-in stores them: exactly as sent, as mongod does (an int64 stays int64
 * whatever its value, a whole double stays a double, regex options stay verbatim).
 *
 * The stored form is the lightest one that serializes back to the same BSON:
 *  - int32 -> a JS number (bson writes an integral number within int32 range as int32);
 *  - double -> a JS number when bson would write that number as a double anyway (fractional,
 *    NaN, +-Infinity, -0, beyond int32 range), else a `Double` wrapper (1.0 stays a double);
 *  - int64 -> always a `Long`;
 *  - regex -> a JS RegExp when it round-trips exactly (options `i`/`m` only, same source), else a
 *    `BSONRegExp` (options `s`, `u`, `x`, `l`, which bson cannot keep on a JS RegExp).
 *
 * mingo compares JS numbers only, so queries and sorts run on a {@link queryView} of a document,
 * where Long (within +-2^53) and Double are plain numbers; the stored document is what is returned.
 */
import { BSONRegExp, Double, Int32, Long, type Document } from 'bson';

/** bson's options for decoding into the stored form (then {@link toStored}). */
export const TYPED_DESERIALIZE_OPTIONS = Object.freeze({
  promoteLongs: false,
  promoteValues: false,
  promoteBuffers: false,
  bsonRegExp: true,
});

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** True when bson serializes this JS number as int32 (so a double of that value needs a wrapper). */
export const isInt32Number = (value: number): boolean =>
  Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX && !Object.is(value, -0);

/** A double in stored form: a number unless bson would write that number as int32. */
export const storedDouble = (value: number): number | Double =>
  isInt32Number(value) ? new Double(value) : value;

/** The stored form of a JS RegExp-compatible regex, else the BSONRegExp itself. */
function storedRegex(value: BSONRegExp): RegExp | BSONRegExp {
  if (!/^[im]*$/.test(value.options)) return value;
  try {
    const regex = new RegExp(value.pattern, value.options);
    return regex.source === value.pattern ? regex : value;
  } catch {
    return value;
  }
}

/** Converts a freshly decoded value (decoded with TYPED_DESERIALIZE_OPTIONS) to the stored form, in place. */
export function toStored<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Int32) return value.value as T;
  if (value instanceof Double) return storedDouble(value.value) as T;
  if (value instanceof BSONRegExp) return storedRegex(value) as T;
  if ('_bsontype' in value || value instanceof Date || value instanceof RegExp) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = toStored(value[i]);
    return value;
  }
  const doc = value as Document;
  for (const key of Object.keys(doc)) doc[key] = toStored(doc[key]);
  return value;
}

/** A Long or Double that reads as a JS number in the query view. */
function viewNumber(value: unknown): number | undefined {
  if (value instanceof Double) return value.value;
  if (value instanceof Long) {
    const safe =
      value.lessThanOrEqual(Number.MAX_SAFE_INTEGER) && value.greaterThanOrEqual(Number.MIN_SAFE_INTEGER);
    return safe ? value.toNumber() : undefined;
  }
  return undefined;
}

/**
 * The value as mingo should see it: Long within +-2^53 and Double as numbers (mongod compares
 * numbers by value across types). Returns the same object when nothing changes, else a copy.
 */
export function queryView<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  const number = viewNumber(value);
  if (number !== undefined) return number as T;
  if ('_bsontype' in value || value instanceof Date || value instanceof RegExp) return value;
  if (Array.isArray(value)) {
    const items = value.map(queryView);
    return items.some((item, i) => item !== value[i]) ? (items as T) : value;
  }
  let copy: Document | undefined;
  for (const [key, item] of Object.entries(value as Document)) {
    const viewed = queryView(item);
    if (viewed !== item) (copy ??= { ...(value as Document) })[key] = viewed;
  }
  return (copy as T) ?? value;
}
