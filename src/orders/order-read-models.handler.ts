import { Injectable, Logger } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Collection } from 'mongodb';
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
 *
 * Per event: one write of the view that also returns its previous version (findOneAnd*), then one
 * `$inc` per customer whose stats change. Both go through the models' driver collections
 * (`Model.collection`): the documents are built here with the schema's types already, so mongoose's
 * query casting and document hydration would be pure cost on this hot path.
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

  @ChangeHandler<OrderDoc>('orders', {
    id: 'orders.read-models',
    database: SHOP_DB,
    operationTypes: ['insert', 'update', 'replace', 'delete', 'snapshot'],
  })
  async apply(event: ChangeEvent<OrderDoc>, ctx: ChangeContext): Promise<void> {
    if (!('documentKey' in event)) return;
    const id = event.documentKey._id;
    const { session } = ctx;
    const views = this.viewCollection;
    const filter = { _id: id };
    const viewOf = (state: ViewState): OrderView => ({
      _id: id,
      ...state,
      changedAt: eventTime(event),
      appliedAt: new Date(),
    });
    let before: ViewState | null;
    let after: ViewState | null;
    switch (event.operationType) {
      case 'insert':
      case 'replace':
      case 'snapshot':
        after = stateOf(event.fullDocument);
        before = await views.findOneAndReplace(filter, viewOf(after), {
          upsert: true,
          session,
          returnDocument: 'before',
          projection: STATE_FIELDS,
        });
        break;
      case 'update': {
        // NOTE: the fields the event changed, over the view as it is (which the update returns).
        const fields = event.updateDescription.updatedFields ?? {};
        const changed: Partial<ViewState> = {};
        if (fields.customerId != null) changed.customerId = fields.customerId;
        if (fields.status != null) changed.status = fields.status;
        if (fields.total != null) changed.total = fields.total;
        if (fields.items != null) changed.itemCount = fields.items.length;
        before = await views.findOneAndUpdate(
          filter,
          { $set: { ...changed, changedAt: eventTime(event), appliedAt: new Date() } },
          { session, returnDocument: 'before', projection: STATE_FIELDS },
        );
        if (before) {
          after = { ...stateFieldsOf(before), ...changed };
        } else if (event.fullDocument) {
          after = stateOf(event.fullDocument);
          await views.replaceOne(filter, viewOf(after), { upsert: true, session });
        } else {
          this.logger.warn(
            `update of order ${String(id)} before its view exists: skipped (event ${ctx.eventId})`,
          );
          return;
        }
        break;
      }
      case 'delete':
        after = null;
        before = await views.findOneAndDelete(filter, { session, projection: STATE_FIELDS });
        break;
      default:
        return;
    }
    for (const [customerId, inc] of statsIncrements(before, after)) {
      await this.statsCollection.updateOne({ _id: customerId }, { $inc: inc }, { upsert: true, session });
    }
  }
}

/** What the read models know of one order version, as its view stores it. */
type ViewState = OrderState & { itemCount: number };

/** The view's fields a previous version is read for. */
const STATE_FIELDS = { _id: 0, customerId: 1, status: 1, total: 1, itemCount: 1 } as const;

function stateFieldsOf(view: ViewState): ViewState {
  return {
    customerId: view.customerId,
    status: view.status,
    total: view.total,
    itemCount: view.itemCount,
  };
}

function stateOf(order: OrderDoc): ViewState {
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
