/**
 * Arithmetic over mongod's numeric types as the stand-in stores them (see typed-values.ts: number
 * for int32 and most doubles, Double for whole doubles, Long for every int64, Decimal128), for
 * `$inc` and `$mul`: mingo only handles plain numbers.
 */
import { Decimal128, Double, Long } from 'bson';
import { isInt32Number, storedDouble } from './typed-values';

export type Numeric = number | Double | Long | Decimal128;

export const isNumeric = (value: unknown): value is Numeric =>
  typeof value === 'number' ||
  value instanceof Double ||
  value instanceof Long ||
  value instanceof Decimal128;

/** a + b with mongod's type promotion (decimal > double > long). */
export const addNumeric = (a: Numeric, b: Numeric): Numeric => combine(a, b, 'add');

/** a * b with mongod's type promotion (decimal > double > long). */
export const multiplyNumeric = (a: Numeric, b: Numeric): Numeric => combine(a, b, 'multiply');

/** The zero of b's type (what `$mul` writes into a missing field). */
export function zeroLike(b: Numeric): Numeric {
  const zeros: Record<Kind, () => Numeric> = {
    int: () => 0,
    long: () => Long.fromNumber(0),
    double: () => new Double(0),
    decimal: () => Decimal128.fromString('0'),
  };
  return zeros[kindOf(b)]();
}

/** A canonical text of a numeric value, equal for equal values of any type (1, 1.0, Long 1, Decimal '1.00'). */
export function canonicalNumeric(value: Numeric): string {
  if (value instanceof Double) value = value.value;
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

/** mongod's result type of arithmetic: the wider operand's (decimal > double > long > int). */
type Kind = 'int' | 'long' | 'double' | 'decimal';
const KINDS: Kind[] = ['int', 'long', 'double', 'decimal'];

function kindOf(value: Numeric): Kind {
  if (value instanceof Decimal128) return 'decimal';
  if (value instanceof Long) return 'long';
  if (value instanceof Double) return 'double';
  return isInt32Number(value) ? 'int' : 'double';
}

function combine(a: Numeric, b: Numeric, op: 'add' | 'multiply'): Numeric {
  const kind = KINDS[Math.max(KINDS.indexOf(kindOf(a)), KINDS.indexOf(kindOf(b)))];
  if (kind === 'decimal') return decimalOp(toDecimalParts(a), toDecimalParts(b), op);
  if (kind === 'long') {
    const [x, y] = [Long.fromValue(a as Long | number), Long.fromValue(b as Long | number)];
    return op === 'add' ? x.add(y) : x.multiply(y);
  }
  const result = op === 'add' ? toNumber(a) + toNumber(b) : toNumber(a) * toNumber(b);
  if (kind === 'double') return storedDouble(result);
  // NOTE: mongod widens an int32 result that overflows to int64 (and int32 has no -0).
  if (result === 0) return 0;
  return isInt32Number(result) ? result : Long.fromNumber(result);
}

const toNumber = (value: Numeric): number =>
  typeof value === 'number' ? value : value instanceof Double ? value.value : Number(value.toString());

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
