import type { Db, Decimal128, ObjectId } from 'mongodb';
import { decimalToCents } from './money';

/** Transition counts per customer (`{ c1: { created_to_paid: 2 } }`), as a client that made them knows them. */
export type TransitionCounts = Record<string, Record<string, number>>;

/** What {@link auditReadModels} compares. */
export interface AuditOptions {
  /** Also compare the transition counters with these (what the client did). */
  transitions?: TransitionCounts;
  /** Only customers whose id starts with this (a run's own data on shared servers). */
  customerPrefix?: string;
}

/** The result of {@link auditReadModels}: empty `mismatches` means the read models are exact. */
export interface ReadModelAudit {
  orders: number;
  views: number;
  customers: number;
  mismatches: string[];
}

interface OrderRow {
  _id: ObjectId;
  customerId: string;
  status: string;
  total: Decimal128;
  items: unknown[];
}

interface StatsRow {
  _id: string;
  orders?: number;
  totalSpent?: Decimal128;
  byStatus?: Record<string, number>;
  transitions?: Record<string, number>;
}

/**
 * Compares `order_views` and `customer_stats` with the `orders` collection of `db`, exactly: one
 * view per order with its status, item count and total; per customer the number of orders, the total
 * spent and the count per status; and, when `transitions` is given, every transition counter. Used by
 * the e2e test and the demo (any duplicate or lost effect shows as a mismatch).
 * NOTE: compare once the writes stopped and the handlers caught up (poll until no mismatch).
 */
export async function auditReadModels(
  db: Db,
  { transitions, customerPrefix = '' }: AuditOptions = {},
): Promise<ReadModelAudit> {
  const prefix = new RegExp(`^${customerPrefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);
  const [orders, views, stats] = await Promise.all([
    db.collection<OrderRow>('orders').find({ customerId: prefix }).toArray(),
    db.collection<OrderRow & { itemCount: number }>('order_views').find({ customerId: prefix }).toArray(),
    db.collection<StatsRow>('customer_stats').find({ _id: prefix }).toArray(),
  ]);
  const mismatches: string[] = [];
  const viewById = new Map(views.map((view) => [view._id.toString(), view]));
  const expected = new Map<string, { orders: number; cents: bigint; byStatus: Record<string, number> }>();
  for (const order of orders) {
    const id = order._id.toString();
    const view = viewById.get(id);
    viewById.delete(id);
    const want = `${order.customerId}/${order.status}/${order.items.length}/${decimalToCents(order.total)}`;
    const got = view && `${view.customerId}/${view.status}/${view.itemCount}/${decimalToCents(view.total)}`;
    if (want !== got) mismatches.push(`order_views ${id}: expected ${want}, got ${got ?? 'none'}`);
    const customer = expected.get(order.customerId) ?? { orders: 0, cents: 0n, byStatus: {} };
    customer.orders++;
    customer.cents += decimalToCents(order.total);
    customer.byStatus[order.status] = (customer.byStatus[order.status] ?? 0) + 1;
    expected.set(order.customerId, customer);
  }
  for (const id of viewById.keys()) mismatches.push(`order_views ${id}: the order does not exist`);

  const statsById = new Map(stats.map((doc) => [String(doc._id), doc]));
  for (const customerId of new Set([...expected.keys(), ...statsById.keys()])) {
    const want = expected.get(customerId) ?? { orders: 0, cents: 0n, byStatus: {} };
    const doc = statsById.get(customerId);
    const wantText = describeStats(want.orders, want.cents, want.byStatus);
    const gotText = doc
      ? describeStats(doc.orders ?? 0, decimalToCents(doc.totalSpent), doc.byStatus ?? {})
      : describeStats(0, 0n, {});
    if (wantText !== gotText)
      mismatches.push(`customer_stats ${customerId}: expected ${wantText}, got ${gotText}`);
    if (transitions) {
      const wantT = describeCounts(transitions[customerId] ?? {});
      const gotT = describeCounts(doc?.transitions ?? {});
      if (wantT !== gotT)
        mismatches.push(`customer_stats ${customerId} transitions: expected ${wantT}, got ${gotT}`);
    }
  }
  return { orders: orders.length, views: views.length, customers: expected.size, mismatches };
}

function describeStats(orders: number, cents: bigint, byStatus: Record<string, number>): string {
  return `orders=${orders} totalSpent(cents)=${cents} byStatus=${describeCounts(byStatus)}`;
}

/** Non-zero counts, sorted, as text: equal texts mean equal counters. */
function describeCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts).filter(([, n]) => n !== 0);
  return `{${entries
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k}:${n}`)
    .join(',')}}`;
}

/** The sum of the `eventsApplied` counters of the customers whose id starts with `customerPrefix`: change events the read models applied. */
export async function eventsApplied(shop: Db, customerPrefix: string): Promise<number> {
  const [row] = await shop
    .collection<{ _id: string; eventsApplied?: number }>('customer_stats')
    .aggregate<{ n: number }>([
      { $match: { _id: new RegExp(`^${customerPrefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`) } },
      { $group: { _id: null, n: { $sum: '$eventsApplied' } } },
    ])
    .toArray();
  return row?.n ?? 0;
}
