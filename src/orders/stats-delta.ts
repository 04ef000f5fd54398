import { decimalToCents, centsToDecimal } from './money';
import type { OrderStatus } from './order.schema';
import { transitionKey } from './read-models.schema';
import type { Types } from 'mongoose';

/** What the read models know of one order version. */
export interface OrderState {
  customerId: string;
  status: OrderStatus;
  total: Types.Decimal128;
}

/** The `$inc` of one customer's stats document. */
export type StatsIncrement = Record<string, number | Types.Decimal128>;

/**
 * The `$inc` per customer that turns the stats of `before` into those of `after` (either may be
 * null: an order created or deleted). An order leaving a customer or a status takes back what it
 * added; a status change of the same customer's order also counts the transition. Zero entries are
 * left out, so an event that changes nothing the stats show writes nothing.
 */
export function statsIncrements(
  before: OrderState | null,
  after: OrderState | null,
): Map<string, StatsIncrement> {
  const counts = new Map<string, Map<string, number>>();
  const money = new Map<string, bigint>();
  const add = (customer: string, field: string, n: number) => {
    const fields = counts.get(customer) ?? new Map<string, number>();
    fields.set(field, (fields.get(field) ?? 0) + n);
    counts.set(customer, fields);
  };
  const account = (state: OrderState, sign: 1 | -1) => {
    add(state.customerId, 'orders', sign);
    add(state.customerId, `byStatus.${state.status}`, sign);
    money.set(
      state.customerId,
      (money.get(state.customerId) ?? 0n) + BigInt(sign) * decimalToCents(state.total),
    );
  };
  if (before) account(before, -1);
  if (after) account(after, 1);
  if (before && after && before.customerId === after.customerId && before.status !== after.status) {
    add(after.customerId, `transitions.${transitionKey(before.status, after.status)}`, 1);
  }

  const result = new Map<string, StatsIncrement>();
  for (const customer of new Set([...counts.keys(), ...money.keys()])) {
    const inc: StatsIncrement = {};
    for (const [field, n] of counts.get(customer) ?? []) if (n !== 0) inc[field] = n;
    const cents = money.get(customer) ?? 0n;
    if (cents !== 0n) inc.totalSpent = centsToDecimal(cents);
    if (Object.keys(inc).length) result.set(customer, inc);
  }
  return result;
}
