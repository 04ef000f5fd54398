/**
 * The chaos run's final check: the read models against the orders collection and the writer's books,
 * sorted into lost events and duplicate effects.
 *
 * Two independent views of the same thing, the larger of each is reported:
 * - events: every change event applied by the read-model handler leaves one processed marker (its id
 *   is the event's resume token, the same across replays), so markers below the events written are
 *   lost events and markers above are events applied twice under different ids. Only on a database
 *   the run has to itself (the stand-in): on a shared server other writers' events count too.
 * - effects: a missing view, a view of a deleted order or a stale status, and each transition counter
 *   below what the writer did, are lost events; a counter above it (or one the writer never made) is
 *   a duplicate effect. The handler derives each change from the order's view, so a redelivery in
 *   order changes nothing and only an older event applied after a newer one shows; that is exactly
 *   the duplicate a broken dedupe lets through.
 * - applied: the customers' `eventsApplied` counters (`$inc` per event applied, whatever the order's
 *   state): below the events written are lost events, above are events applied twice. The one view
 *   that counts on any server and in either dedupe mode (`offsets` writes no markers).
 * Whatever else `auditReadModels` finds stays in `mismatches`; any mismatch fails the run.
 */
import type { Db, ObjectId } from 'mongodb';
import { ORDER_TRANSITIONS, type OrderStatus } from '../../src/orders/order.schema';
import { auditReadModels, eventsApplied, type TransitionCounts } from '../../src/orders/read-model-audit';

/** The handler whose markers are counted. */
export const READ_MODEL_HANDLER_ID = 'orders.read-models';

export interface VerdictInput {
  shop: Db;
  /** The library's own database (processed markers); undefined: not counted (shared server). */
  markers?: { db: Db; collection: string; since: Date };
  customerPrefix: string;
  eventsWritten: number;
  transitions: TransitionCounts;
  orders: ReadonlyMap<string, { customerId: string; status: OrderStatus }>;
  deleted: ReadonlyMap<string, { customerId: string; status: OrderStatus }>;
}

export interface Verdict {
  lostEvents: number;
  duplicateEffects: number;
  /** Distinct events the handler applied (null when not counted). */
  markers: number | null;
  /** The parts of the classification, for the report. */
  parts: {
    missingViews: number;
    viewsOfDeletedOrders: number;
    staleViews: number;
    transitionsMissing: number;
    transitionsExtra: number;
    eventsWithoutMarker: number;
    markersBeyondEvents: number;
    eventsNotCounted: number;
    eventsCountedTwice: number;
  };
  /** Every difference found (read models vs orders vs the writer's books). */
  mismatches: string[];
}

interface ViewRow {
  _id: ObjectId;
  customerId: string;
  status: OrderStatus;
}

export async function judge(input: VerdictInput): Promise<Verdict> {
  const { shop, customerPrefix } = input;
  const prefix = new RegExp(`^${escapeRegExp(customerPrefix)}`);
  const [audit, views, stats, markers] = await Promise.all([
    auditReadModels(shop, { transitions: input.transitions, customerPrefix }),
    shop.collection<ViewRow>('order_views').find({ customerId: prefix }).toArray(),
    shop
      .collection<{ _id: string; transitions?: Record<string, number> }>('customer_stats')
      .find({ _id: prefix as never })
      .toArray(),
    input.markers
      ? input.markers.db
          .collection(input.markers.collection)
          .countDocuments({ handlerId: READ_MODEL_HANDLER_ID, processedAt: { $gte: input.markers.since } })
      : Promise.resolve(null),
  ]);
  const mismatches = [...audit.mismatches];
  const parts = {
    missingViews: 0,
    viewsOfDeletedOrders: 0,
    staleViews: 0,
    transitionsMissing: 0,
    transitionsExtra: 0,
    eventsWithoutMarker: 0,
    markersBeyondEvents: 0,
    eventsNotCounted: 0,
    eventsCountedTwice: 0,
  };
  let duplicateViews = 0;

  const viewById = new Map(views.map((view) => [view._id.toHexString(), view]));
  const staleCustomers = new Map<string, number>();
  for (const [id, order] of input.orders) {
    const view = viewById.get(id);
    viewById.delete(id);
    if (!view) {
      parts.missingViews++;
    } else if (view.status !== order.status) {
      staleCustomers.set(order.customerId, (staleCustomers.get(order.customerId) ?? 0) + 1);
      mismatches.push(`order ${id}: the writer left it ${order.status}, its view says ${view.status}`);
    }
  }
  for (const [id, view] of viewById) {
    const gone = input.deleted.get(id);
    if (!gone) {
      mismatches.push(`order_views ${id}: an order the writer never made (${view.customerId})`);
      duplicateViews++;
    } else if (reachable(view.status, gone.status)) {
      // The delete (and maybe status moves before it) was not applied. (An older event applied again
      // after the delete would look the same: the read models cannot tell; either fails the run.)
      parts.viewsOfDeletedOrders++;
      mismatches.push(
        `order_views ${id}: deleted as ${gone.status}, its view is still there (${view.status})`,
      );
    } else {
      // A status the order never had on its way to the delete: a wrong effect.
      duplicateViews++;
      mismatches.push(`order_views ${id}: deleted as ${gone.status}, re-created as ${view.status}`);
    }
  }

  const applied = await eventsApplied(shop, customerPrefix);
  parts.eventsNotCounted = Math.max(0, input.eventsWritten - applied);
  parts.eventsCountedTwice = Math.max(0, applied - input.eventsWritten);
  if (applied !== input.eventsWritten)
    mismatches.push(`customer_stats: ${applied} events applied for ${input.eventsWritten} written`);

  const statsById = new Map(stats.map((doc) => [String(doc._id), doc.transitions ?? {}]));
  const customers = new Set([...Object.keys(input.transitions), ...statsById.keys()]);
  const missingByCustomer = new Map<string, number>();
  for (const customerId of customers) {
    const want = input.transitions[customerId] ?? {};
    const got = statsById.get(customerId) ?? {};
    for (const key of new Set([...Object.keys(want), ...Object.keys(got)])) {
      const delta = (got[key] ?? 0) - (want[key] ?? 0);
      if (delta > 0) parts.transitionsExtra += delta;
      if (delta < 0) {
        parts.transitionsMissing -= delta;
        missingByCustomer.set(customerId, (missingByCustomer.get(customerId) ?? 0) - delta);
      }
    }
  }
  // A stale view whose missing transition is already counted is the same lost event.
  for (const [customerId, stale] of staleCustomers) {
    parts.staleViews += Math.max(0, stale - (missingByCustomer.get(customerId) ?? 0));
  }

  if (markers !== null) {
    parts.eventsWithoutMarker = Math.max(0, input.eventsWritten - markers);
    parts.markersBeyondEvents = Math.max(0, markers - input.eventsWritten);
    if (markers !== input.eventsWritten)
      mismatches.push(`processed markers: ${markers} for ${input.eventsWritten} events written`);
  }
  const lostByEffects =
    parts.missingViews + parts.viewsOfDeletedOrders + parts.staleViews + parts.transitionsMissing;
  const duplicatesByEffects = parts.transitionsExtra + duplicateViews;
  return {
    lostEvents: Math.max(lostByEffects, parts.eventsWithoutMarker, parts.eventsNotCounted),
    duplicateEffects: Math.max(duplicatesByEffects, parts.markersBeyondEvents, parts.eventsCountedTwice),
    markers,
    parts,
    mismatches,
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whether `to` can follow `from` through zero or more allowed transitions. */
function reachable(from: OrderStatus, to: OrderStatus): boolean {
  return from === to || ORDER_TRANSITIONS[from].some((next) => reachable(next, to));
}
