import type { Timestamp } from 'bson';
import type { ClientSession, Collection } from 'mongodb';
import type { ChangeEvent, SnapshotEndEvent } from 'nest-change-stream';
import { STATE_FIELDS, type OrderDoc } from './order-changes';
import { SHOP_DB } from './order.schema';
import type { OrderView } from './read-models.schema';
import { StatsDelta } from './stats-delta';

/** The domain collection whose history this follows. */
const ORDERS = 'orders';
const FLOOR = 'floor';

/**
 * A document of `order_history`: the floor (`_id: 'floor'`), or the end markers seen of one
 * resnapshot run (`_id: 'run:<runId>'`).
 */
export interface OrderHistoryDoc {
  _id: string;
  /** Floor: events of `shop.orders` before this cluster time are stale (the collection was dropped after them). */
  before?: Timestamp;
  /** Run: the partitions whose end marker was applied, and how many the topic has. */
  ended?: number[];
  partitions?: number;
}

/** Whether `event` took the orders away: a drop or rename of `shop.orders`, or a drop of its database. */
export function ordersGone(event: ChangeEvent<OrderDoc>): boolean {
  switch (event.operationType) {
    case 'drop':
    case 'rename':
      return event.ns.db === SHOP_DB && event.ns.coll === ORDERS;
    case 'dropDatabase':
      return event.ns.db === SHOP_DB;
    default:
      return false;
  }
}

/** Whether `event` happened before `floor` (then it is stale: its order went with a later drop). */
export function beforeFloor(event: ChangeEvent<OrderDoc>, floor: Timestamp | null): boolean {
  return !!floor && !!event.clusterTime && event.clusterTime.lessThan(floor);
}

/**
 * What happens to the read models when `shop.orders` loses documents without a delete event for
 * each: a drop or rename of the collection, or a resnapshot after the change stream's history was
 * lost (the deletes made meanwhile were never published). Both remove the views that no event at or
 * after a cluster time wrote, and take their orders out of the customers' stats:
 * - a drop / rename at D: the views older than D; and D becomes the floor, so an older event of
 *   another partition, applied later, does not bring a view back;
 * - a resnapshot run at T: once the run's end marker of every partition is applied (so every
 *   snapshot event of the run is), the views older than T: orders the run did not see.
 * Writes go through the handler's session: they commit with the events' processed markers.
 */
export class OrderHistory {
  constructor(
    private readonly views: Collection<OrderView>,
    private readonly stats: Collection<{ _id: string }>,
    private readonly history: Collection<OrderHistoryDoc>,
  ) {}

  /** The cluster time before which events of `shop.orders` are stale, or null. */
  async floor(session: ClientSession): Promise<Timestamp | null> {
    const doc = await this.history.findOne({ _id: FLOOR }, { session });
    return doc?.before ?? null;
  }

  /** Applies the drops, renames and resnapshot end markers among `events`, in order. */
  async apply(events: readonly ChangeEvent<OrderDoc>[], session: ClientSession): Promise<void> {
    for (const event of events) {
      if (ordersGone(event) && event.clusterTime) await this.dropBefore(event.clusterTime, session);
      else if (event.operationType === 'snapshotEnd') await this.endOfRun(event, session);
    }
  }

  private async dropBefore(at: Timestamp, session: ClientSession): Promise<void> {
    await this.history.updateOne({ _id: FLOOR }, { $max: { before: at } }, { upsert: true, session });
    await this.removeViewsBefore(at, session);
  }

  private async endOfRun(event: SnapshotEndEvent, session: ClientSession): Promise<void> {
    if (!event.collections.includes(ORDERS) || !event.clusterTime) return;
    const _id = `run:${event.runId}`;
    const partitions = Number(event.partitions);
    await this.history.updateOne(
      { _id },
      { $addToSet: { ended: Number(event.partition) }, $set: { partitions } },
      { upsert: true, session },
    );
    const run = await this.history.findOne({ _id }, { session });
    if ((run?.ended?.length ?? 0) >= partitions) await this.removeViewsBefore(event.clusterTime, session);
  }

  /** Deletes the views no event at or after `at` wrote, and takes their orders out of the stats. */
  private async removeViewsBefore(at: Timestamp, session: ClientSession): Promise<void> {
    // NOTE: $nor also matches views without a clusterTime (written before the field existed).
    const stale = { $nor: [{ clusterTime: { $gte: at } }] };
    const stats = new StatsDelta();
    for await (const view of this.views.find(stale, { session, projection: STATE_FIELDS })) {
      stats.add(view, null);
    }
    await this.views.deleteMany(stale, { session });
    const writes = [...stats.increments()].map(([customerId, inc]) => ({
      updateOne: { filter: { _id: customerId }, update: { $inc: inc }, upsert: true },
    }));
    if (writes.length) await this.stats.bulkWrite(writes, { session, ordered: false });
  }
}
