/**
 * Arithmetic over mongod's numeric types as the stand-in holds them (number, Long beyond 2^53,
 * Decimal128), for `$inc` and `$mul`: mingo only handles plain numbers.
 */
import { Decimal128, Long } from 'bson';

export type Numeric = number | Long | Decimal128;

export const isNumeric = (value: unknown): value is Numeric =>
  typeof value === 'number' || value instanceof Long || value instanceof Decimal128;

/** a + b with mongod's type promotion (decimal > double > long). */
export const addNumeric = (a: Numeric, b: Numeric): Numeric => combine(a, b, 'add');

/** a * b with mongod's type promotion (decimal > double > long). */
export const multiplyNumeric = (a: Numeric, b: Numeric): Numeric => combine(a, b, 'multiply');

/** The zero of b's type (what `$mul` writes into a missing field). */
export const zeroLike = (b: Numeric): Numeric => (b instanceof Decimal128 ? Decimal128.fromString('0') : 0);

/** A canonical text of a numeric value, equal for equal values of any type (1, 1.0, Long 1, Decimal '1.00'). */
export function canonicalNumeric(value: Numeric): string {
  if (typeof value === 'number' && Number.isSafeInteger(value)) {
    // The common case, without BigInt: same text as the general path below.
    if (value === 0) return '0';
    let exponent = 0;
    while (value % 10 === 0) {
      value /= 10;
      exponent++;
    }
    return `${value}e${exponent}`;
  }
  const parts = toDecimalParts(value);
  if (parts.special !== undefined) return String(parts.special);
  let { coefficient, exponent } = parts;
  if (coefficient === 0n) return '0';
  while (coefficient % 10n === 0n) {
    coefficient /= 10n;
    exponent++;
  }
  return `${coefficient}e${exponent}`;
}

function combine(a: Numeric, b: Numeric, op: 'add' | 'multiply'): Numeric {
  if (a instanceof Decimal128 || b instanceof Decimal128) {
    return decimalOp(toDecimalParts(a), toDecimalParts(b), op);
  }
  if (a instanceof Long || b instanceof Long) {
    const fractional = [a, b].some((v) => typeof v === 'number' && !Number.isInteger(v));
    if (!fractional) {
      const result =
        op === 'add'
          ? Long.fromValue(a).add(Long.fromValue(b))
          : Long.fromValue(a).multiply(Long.fromValue(b));
      return normalizeLong(result);
    }
  }
  const x = toNumber(a);
  const y = toNumber(b);
  return op === 'add' ? x + y : x * y;
}

/** A Long within +-2^53 becomes a number (the storage boundary, see values.ts). */
function normalizeLong(value: Long): Numeric {
  const safe =
    value.lessThanOrEqual(Number.MAX_SAFE_INTEGER) && value.greaterThanOrEqual(Number.MIN_SAFE_INTEGER);
  return safe ? value.toNumber() : value;
}

const toNumber = (value: Numeric): number => (typeof value === 'number' ? value : Number(value.toString()));

interface DecimalParts {
  coefficient: bigint;
  exponent: number;
  /** NaN / Infinity: computed with doubles. */
  special?: number;
}

const DECIMAL = /^([+-]?)(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

function toDecimalParts(value: Numeric): DecimalParts {
  const text = value.toString(); // numbers print as '1.5', '1e+21', 'NaN'; all parse below or are special
  const match = DECIMAL.exec(text);
  if (!match) return { coefficient: 0n, exponent: 0, special: Number(text) };
  const [, sign, whole, fraction = '', exponent = '0'] = match;
  return { coefficient: BigInt(`${sign}${whole}${fraction}`), exponent: Number(exponent) - fraction.length };
}

function decimalOp(a: DecimalParts, b: DecimalParts, op: 'add' | 'multiply'): Decimal128 {
  if (a.special !== undefined || b.special !== undefined) {
    const x = a.special ?? Number(`${a.coefficient}E${a.exponent}`);
    const y = b.special ?? Number(`${b.coefficient}E${b.exponent}`);
    return Decimal128.fromString(String(op === 'add' ? x + y : x * y));
  }
  if (op === 'multiply') {
    return Decimal128.fromStringWithRounding(`${a.coefficient * b.coefficient}E${a.exponent + b.exponent}`);
  }
  const exponent = Math.min(a.exponent, b.exponent);
  const scale = (parts: DecimalParts) => parts.coefficient * 10n ** BigInt(parts.exponent - exponent);
  return Decimal128.fromStringWithRounding(`${scale(a) + scale(b)}E${exponent}`);
}
