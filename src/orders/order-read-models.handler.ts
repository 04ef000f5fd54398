import { Injectable, Logger } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { AnyBulkWriteOperation, ClientSession, Collection } from 'mongodb';
import type { Model, Types } from 'mongoose';
import {
  ChangeBatchContext,
  ChangeBatchHandler,
  type ChangeContext,
  type ChangeEvent,
} from 'nest-change-stream';
import { foldOrderChanges, orderKey, STATE_FIELDS, type OrderDoc, type ViewState } from './order-changes';
import { beforeFloor, OrderHistory, type OrderHistoryDoc } from './order-history';
import { SHOP_DB } from './order.schema';
import { CustomerStats, OrderView } from './read-models.schema';

/**
 * Keeps `order_views` and `customer_stats` in step with `shop.orders`. Both read models change in
 * one handler, so in one transaction with the processed-event markers: a redelivered event changes
 * neither, and they never disagree. The previous version of an order is its view (events of one
 * order arrive in order: same Kafka key, same partition), so updates need no pre-images.
 *
 * A batch handler: it gets the events of a shared transaction together (`worker.batchSize`) and
 * applies them in three commands, whatever their number: one `find` of the views they touch, one
 * `bulkWrite` of the views (one replace or delete per order), one `bulkWrite` of the stats (one
 * `$inc` per customer). The fold in between is pure ({@link foldOrderChanges}). It goes through the
 * models' driver collections (`Model.collection`): the documents are built here with the schema's
 * types already, so mongoose's casting and hydration would be pure cost on this hot path.
 *
 * Orders that leave without a delete event each (a drop or rename of `shop.orders`; a resnapshot
 * after lost history, whose run did not see the orders deleted meanwhile) leave with their views:
 * see {@link OrderHistory}. Every view keeps the cluster time of the event that wrote it for that.
 */
@Injectable()
export class OrderReadModelsHandler {
  private readonly logger = new Logger(OrderReadModelsHandler.name);

  constructor(
    @InjectModel(OrderView.name) private readonly views: Model<OrderView>,
    @InjectModel(CustomerStats.name) private readonly stats: Model<CustomerStats>,
  ) {}

  // NOTE: the models' driver collections hold these schemas' documents; mongoose types them loosely.
  private get viewCollection(): Collection<OrderView> {
    return this.views.collection as unknown as Collection<OrderView>;
  }

  private get statsCollection(): Collection<{ _id: string }> {
    return this.stats.collection as unknown as Collection<{ _id: string }>;
  }

  private get history(): OrderHistory {
    // NOTE: the connection's driver Db (open by the time events arrive): order_history has no mongoose model.
    const history = this.views.db.db!.collection<OrderHistoryDoc>('order_history');
    return new OrderHistory(this.viewCollection, this.statsCollection, history);
  }

  @ChangeBatchHandler<OrderDoc>('orders', {
    id: 'orders.read-models',
    database: SHOP_DB,
    operationTypes: [
      'insert',
      'update',
      'replace',
      'delete',
      'snapshot',
      'snapshotEnd',
      'drop',
      'rename',
      'dropDatabase',
    ],
  })
  async apply(events: ChangeEvent<OrderDoc>[], ctx: ChangeBatchContext): Promise<void> {
    const { session } = ctx;
    const history = this.history;
    const floor = await history.floor(session);
    await this.applyDocumentEvents(
      events.filter((e) => !beforeFloor(e, floor)),
      { session, receivedAt: receivedAtByOrder(events, ctx.contexts) },
      (event) => ctx.contexts[events.indexOf(event)].eventId,
    );
    await history.apply(events, session);
  }

  /** Folds the document events over the views they touch and writes views and stats. */
  private async applyDocumentEvents(
    events: ChangeEvent<OrderDoc>[],
    { session, receivedAt }: { session: ClientSession; receivedAt: ReturnType<typeof receivedAtByOrder> },
    eventIdOf: (event: ChangeEvent<OrderDoc>) => string,
  ): Promise<void> {
    const ids = [...new Set(events.flatMap((e) => ('documentKey' in e ? [e.documentKey._id] : [])))];
    if (ids.length === 0) return;
    const current = new Map<string, ViewState>();
    const found = this.viewCollection.find({ _id: { $in: ids } }, { session, projection: STATE_FIELDS });
    for await (const { _id, customerId, status, total, itemCount } of found) {
      current.set(orderKey(_id), { customerId, status, total, itemCount });
    }

    const changes = foldOrderChanges(events, current);
    for (const event of changes.skipped) {
      this.logger.warn(
        `update of order ${String(event.documentKey._id)} before its view exists: skipped (event ${eventIdOf(event)})`,
      );
    }
    const appliedAt = new Date();
    const viewWrites: AnyBulkWriteOperation<OrderView>[] = [];
    for (const { id, after, existed, changedAt, clusterTime } of changes.views) {
      if (after) {
        viewWrites.push({
          replaceOne: {
            filter: { _id: id },
            replacement: { ...after, changedAt, appliedAt, clusterTime, ...receivedAt(id) },
            upsert: true,
          },
        });
      } else if (existed) {
        viewWrites.push({ deleteOne: { filter: { _id: id } } });
      }
    }
    const statsWrites = [...changes.stats.increments()].map(([customerId, inc]) => ({
      updateOne: { filter: { _id: customerId }, update: { $inc: inc }, upsert: true },
    }));
    if (viewWrites.length) await this.viewCollection.bulkWrite(viewWrites, { session, ordered: false });
    if (statsWrites.length) await this.statsCollection.bulkWrite(statsWrites, { session, ordered: false });
  }
}

/** By order: when the worker received the message of the order's last event (the view's `receivedAt`), when known. */
function receivedAtByOrder(
  events: readonly ChangeEvent<OrderDoc>[],
  contexts: readonly ChangeContext[],
): (id: Types.ObjectId) => { receivedAt?: Date } {
  const byOrder = new Map<string, Date>();
  events.forEach((event, i) => {
    const at = contexts[i]?.receivedAt;
    if (at && 'documentKey' in event) byOrder.set(orderKey(event.documentKey._id), at);
  });
  return (id) => {
    const at = byOrder.get(orderKey(id));
    return at ? { receivedAt: at } : {};
  };
}
