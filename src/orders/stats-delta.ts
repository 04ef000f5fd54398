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
  const stats = new StatsDelta();
  stats.add(before, after);
  return stats.increments();
}

/**
 * The sum of several order changes' stats increments (one `$inc` per customer for a whole batch of
 * events): counts and cents add up exactly, and what cancels out is left out.
 */
export class StatsDelta {
  private readonly counts = new Map<string, Map<string, number>>();
  private readonly money = new Map<string, bigint>();

  /** Adds the change of one order from `before` to `after` (null: created / deleted). */
  add(before: OrderState | null, after: OrderState | null): void {
    if (before) this.account(before, -1);
    if (after) this.account(after, 1);
    if (before && after && before.customerId === after.customerId && before.status !== after.status) {
      this.count(after.customerId, `transitions.${transitionKey(before.status, after.status)}`, 1);
    }
  }

  /**
   * Counts one event applied to an order of `customer` (`eventsApplied`). Unlike the other counters
   * it is not derived from the order's state, so an event applied twice, even in order, shows.
   */
  applied(customer: string): void {
    this.count(customer, 'eventsApplied', 1);
  }

  /** The non-zero `$inc` of each customer. */
  increments(): Map<string, StatsIncrement> {
    const result = new Map<string, StatsIncrement>();
    for (const customer of new Set([...this.counts.keys(), ...this.money.keys()])) {
      const inc: StatsIncrement = {};
      for (const [field, n] of this.counts.get(customer) ?? []) if (n !== 0) inc[field] = n;
      const cents = this.money.get(customer) ?? 0n;
      if (cents !== 0n) inc.totalSpent = centsToDecimal(cents);
      if (Object.keys(inc).length) result.set(customer, inc);
    }
    return result;
  }

  private account(state: OrderState, sign: 1 | -1): void {
    this.count(state.customerId, 'orders', sign);
    this.count(state.customerId, `byStatus.${state.status}`, sign);
    this.money.set(
      state.customerId,
      (this.money.get(state.customerId) ?? 0n) + BigInt(sign) * decimalToCents(state.total),
    );
  }

  private count(customer: string, field: string, n: number): void {
    const fields = this.counts.get(customer) ?? new Map<string, number>();
    fields.set(field, (fields.get(field) ?? 0) + n);
    this.counts.set(customer, fields);
  }
}
