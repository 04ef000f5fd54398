import { Injectable, Logger } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Model, Types } from 'mongoose';
import { ChangeContext, ChangeHandler, type ChangeEvent } from 'nest-change-stream';
import { Order, SHOP_DB } from './order.schema';
import { CustomerStats, OrderView } from './read-models.schema';
import { statsIncrements, type OrderState } from './stats-delta';

type OrderDoc = Order & { _id: Types.ObjectId };

/**
 * Keeps `order_views` and `customer_stats` in step with `shop.orders`. Both read models change in
 * one handler, so in one transaction with the processed-event marker: a redelivered event changes
 * neither, and they never disagree. The previous version of an order is its view (events of one
 * order arrive in order: same Kafka key, same partition), so updates need no pre-images.
 */
@Injectable()
export class OrderReadModelsHandler {
  private readonly logger = new Logger(OrderReadModelsHandler.name);

  constructor(
    @InjectModel(OrderView.name) private readonly views: Model<OrderView>,
    @InjectModel(CustomerStats.name) private readonly stats: Model<CustomerStats>,
  ) {}

  @ChangeHandler<OrderDoc>('orders', {
    id: 'orders.read-models',
    database: SHOP_DB,
    operationTypes: ['insert', 'update', 'replace', 'delete', 'snapshot'],
  })
  async apply(event: ChangeEvent<OrderDoc>, ctx: ChangeContext): Promise<void> {
    if (!('documentKey' in event)) return;
    const id = event.documentKey._id;
    const { session } = ctx;
    const before = await this.views.findById(id, null, { session }).lean();
    const after = this.nextState(event, before);
    if (after === undefined) {
      this.logger.warn(
        `update of order ${String(id)} before its view exists: skipped (event ${ctx.eventId})`,
      );
      return;
    }

    if (after) {
      const view: OrderView = { _id: id, ...after, changedAt: eventTime(event), appliedAt: new Date() };
      await this.views.replaceOne({ _id: id }, view, { upsert: true, session });
    } else if (before) {
      await this.views.deleteOne({ _id: id }, { session });
    }
    for (const [customerId, inc] of statsIncrements(before, after)) {
      await this.stats.updateOne({ _id: customerId }, { $inc: inc }, { upsert: true, session });
    }
  }

  /** The order's state after `event`: null when deleted, undefined when it cannot be known. */
  private nextState(
    event: ChangeEvent<OrderDoc>,
    before: (OrderState & { itemCount: number }) | null,
  ): (OrderState & { itemCount: number }) | null | undefined {
    switch (event.operationType) {
      case 'insert':
      case 'replace':
      case 'snapshot':
        return stateOf(event.fullDocument);
      case 'update': {
        if (!before) return event.fullDocument ? stateOf(event.fullDocument) : undefined;
        const fields = event.updateDescription.updatedFields ?? {};
        return {
          customerId: fields.customerId ?? before.customerId,
          status: fields.status ?? before.status,
          total: fields.total ?? before.total,
          itemCount: fields.items?.length ?? before.itemCount,
        };
      }
      case 'delete':
        return null;
      default:
        return undefined;
    }
  }
}

function stateOf(order: OrderDoc): OrderState & { itemCount: number } {
  return {
    customerId: order.customerId,
    status: order.status,
    total: order.total,
    itemCount: order.items.length,
  };
}

/** When the change happened: the event's wall time, else its cluster time (seconds). */
function eventTime(event: ChangeEvent<OrderDoc>): Date {
  if (event.wallTime) return new Date(event.wallTime);
  return event.clusterTime ? new Date(event.clusterTime.getHighBits() * 1000) : new Date();
}
