import { Types } from 'mongoose';

/** A money amount: a non-negative decimal with at most two fraction digits, as a string or a number. */
const AMOUNT = /^\d{1,12}(\.\d{1,2})?$/;

/** Whether `value` is an amount {@link toCents} accepts. */
export function isAmount(value: unknown): value is string | number {
  return (
    (typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))) &&
    AMOUNT.test(String(value))
  );
}

/** The amount in cents, exactly (no binary floating point on the way). */
export function toCents(amount: string | number): bigint {
  const [whole, fraction = ''] = String(amount).split('.');
  return BigInt(whole) * 100n + BigInt(fraction.padEnd(2, '0'));
}

/** Cents as a Decimal128 with two fraction digits (`1234n` -> `12.34`). */
export function centsToDecimal(cents: bigint): Types.Decimal128 {
  const sign = cents < 0n ? '-' : '';
  const abs = cents < 0n ? -cents : cents;
  return Types.Decimal128.fromString(`${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`);
}

/** A Decimal128 (or anything printing as a decimal) in cents; for comparing sums exactly. */
export function decimalToCents(value: { toString(): string } | null | undefined): bigint {
  if (value === null || value === undefined) return 0n;
  const text = value.toString();
  const negative = text.startsWith('-');
  const [whole, fraction = ''] = (negative ? text.slice(1) : text).split('.');
  const cents = BigInt(whole || '0') * 100n + BigInt((fraction + '00').slice(0, 2));
  return negative ? -cents : cents;
}
