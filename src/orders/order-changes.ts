import type { Timestamp } from 'bson';
import type { Types } from 'mongoose';
import type { ChangeEvent, ChangeEventOf } from 'nest-change-stream';
import type { Order } from './order.schema';
import { StatsDelta, type OrderState } from './stats-delta';

export type OrderDoc = Order & { _id: Types.ObjectId };

/** What the read models know of one order version, as its view stores it. */
export type ViewState = OrderState & { itemCount: number };

/** The view's fields a previous version is read for. */
export const STATE_FIELDS = { _id: 1, customerId: 1, status: 1, total: 1, itemCount: 1 } as const;

/** An order's view after a batch of events: its final state (null: deleted) and the last change's time. */
export interface ViewChange {
  id: Types.ObjectId;
  /** null: the order is gone. */
  after: ViewState | null;
  /** Whether the view existed before the batch (a deletion of a view that never existed writes nothing). */
  existed: boolean;
  changedAt: Date;
  /** Cluster time of the last change (a snapshot event's: its run's operation time); null if unknown. */
  clusterTime: Timestamp | null;
}

/** What a batch of order events does to the read models. */
export interface OrderChanges {
  /** One entry per order the batch touched, in the order of their first event. */
  views: ViewChange[];
  /** The summed `$inc` of every customer's stats. */
  stats: StatsDelta;
  /** Updates that arrived before their order's view existed, without a full document: nothing to apply. */
  skipped: ChangeEventOf<OrderDoc, 'update'>[];
}

/**
 * Folds a batch of `shop.orders` change events, in their order, over the current views of the
 * orders they touch (`current`, keyed by {@link orderKey}; a missing key: no view). Each event moves
 * its order from the state before it (the view, or the previous event's result) to the state after
 * it, and adds that change to the stats: the same result as applying the events one by one, in a
 * write per order and one per customer. Pure: the handler reads and writes.
 */
export function foldOrderChanges(
  events: readonly ChangeEvent<OrderDoc>[],
  current: ReadonlyMap<string, ViewState>,
): OrderChanges {
  const views = new Map<string, ViewChange>();
  const stats = new StatsDelta();
  const skipped: ChangeEventOf<OrderDoc, 'update'>[] = [];
  for (const event of events) {
    if (!('documentKey' in event)) continue;
    const id = event.documentKey._id;
    const key = orderKey(id);
    const known = views.get(key);
    const before = known ? known.after : (current.get(key) ?? null);
    let after: ViewState | null;
    switch (event.operationType) {
      case 'insert':
      case 'replace':
      case 'snapshot':
        after = stateOf(event.fullDocument);
        break;
      case 'update': {
        const fields = event.updateDescription.updatedFields ?? {};
        if (before) {
          after = { ...before };
          if (fields.customerId != null) after.customerId = fields.customerId;
          if (fields.status != null) after.status = fields.status;
          if (fields.total != null) after.total = fields.total;
          if (fields.items != null) after.itemCount = fields.items.length;
        } else if (event.fullDocument) {
          after = stateOf(event.fullDocument);
        } else {
          skipped.push(event);
          continue;
        }
        break;
      }
      case 'delete':
        after = null;
        break;
      default:
        continue;
    }
    stats.add(before, after);
    const customer = (after ?? before)?.customerId;
    if (customer !== undefined) stats.applied(customer);
    views.set(key, {
      id,
      after,
      existed: known ? known.existed : current.has(key),
      changedAt: eventTime(event),
      clusterTime: event.clusterTime ?? null,
    });
  }
  return { views: [...views.values()], stats, skipped };
}

/** A map key for an order id. */
export function orderKey(id: Types.ObjectId): string {
  return id.toHexString();
}

export function stateOf(order: OrderDoc): ViewState {
  return {
    customerId: order.customerId,
    status: order.status,
    total: order.total,
    itemCount: order.items.length,
  };
}

/** When the change happened: the event's wall time, else its cluster time (seconds). */
export function eventTime(event: ChangeEvent<OrderDoc>): Date {
  if (event.wallTime) return new Date(event.wallTime);
  return event.clusterTime ? new Date(event.clusterTime.getHighBits() * 1000) : new Date();
}
