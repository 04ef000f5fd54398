import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import type { Timestamp } from 'bson';
import { Types } from 'mongoose';
import type { OrderStatus } from './order.schema';

/**
 * `order_views`: one document per existing order (same `_id`), with its latest status. Written by
 * replacing the whole document, and deleted with the order.
 */
@Schema({ collection: 'order_views', versionKey: false })
export class OrderView {
  @Prop({ type: Types.ObjectId, required: true })
  _id!: Types.ObjectId;

  @Prop({ required: true })
  customerId!: string;

  @Prop({ type: String, required: true })
  status!: OrderStatus;

  @Prop({ required: true })
  itemCount!: number;

  @Prop({ type: Types.Decimal128, required: true })
  total!: Types.Decimal128;

  /** Commit time of the change event that wrote this version (its wallTime, else its cluster time). */
  @Prop({ required: true })
  changedAt!: Date;

  /** When the handler wrote this version: `appliedAt - changedAt` is the event's end-to-end latency. */
  @Prop({ required: true })
  appliedAt!: Date;

  /** When the worker received the message of the change that wrote this version (from Kafka); absent if unknown. */
  @Prop()
  receivedAt?: Date;

  /**
   * Cluster time (BSON Timestamp) of the change event that wrote this version; a snapshot event's is
   * its run's operation time. A drop of `shop.orders`, or the end of a resnapshot, removes the views
   * written before it (see OrderHistory).
   */
  @Prop({ type: Object })
  clusterTime?: Timestamp | null;
}

/**
 * `customer_stats`: per customer, kept with `$inc` only, so an event applied twice shows as a wrong
 * number. `orders` and `totalSpent` cover the customer's existing orders; `byStatus` counts them per
 * current status; `transitions` counts every status change (`<from>_to_<to>`) ever made;
 * `eventsApplied` counts the change events applied to the customer's orders (the only counter an
 * event applied twice in order changes: the others follow the order's state).
 */
@Schema({ collection: 'customer_stats', versionKey: false })
export class CustomerStats {
  /** The customer id. */
  @Prop({ type: String, required: true })
  _id!: string;

  @Prop()
  orders!: number;

  @Prop({ type: Types.Decimal128 })
  totalSpent!: Types.Decimal128;

  @Prop({ type: Object })
  byStatus!: Partial<Record<OrderStatus, number>>;

  @Prop({ type: Object })
  transitions!: Record<string, number>;
}

export const OrderViewSchema = SchemaFactory.createForClass(OrderView);
export const CustomerStatsSchema = SchemaFactory.createForClass(CustomerStats);

/** The key of a status change in `CustomerStats.transitions`. */
export const transitionKey = (from: OrderStatus, to: OrderStatus): string => `${from}_to_${to}`;
