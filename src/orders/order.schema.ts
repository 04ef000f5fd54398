import { Prop, Schema, SchemaFactory } from '@nestjs/mongoose';
import { Types, type HydratedDocument } from 'mongoose';

/** The database of the domain collection and of its read models. */
export const SHOP_DB = 'shop';

/** The statuses an order goes through. */
export const ORDER_STATUSES = ['created', 'paid', 'shipped', 'delivered', 'cancelled'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** Which status may follow which: anything else is refused with 409. */
export const ORDER_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  created: ['paid', 'cancelled'],
  paid: ['shipped', 'cancelled'],
  shipped: ['delivered'],
  delivered: [],
  cancelled: [],
};

/** One line of an order. */
@Schema({ _id: false })
export class OrderItem {
  @Prop({ required: true })
  sku!: string;

  @Prop({ required: true, min: 1 })
  quantity!: number;

  /** Unit price. */
  @Prop({ type: Types.Decimal128, required: true })
  price!: Types.Decimal128;
}

/** An order of the `shop.orders` domain collection: the source of the change stream. */
@Schema({ collection: 'orders', versionKey: false, timestamps: false })
export class Order {
  @Prop({ required: true, index: true })
  customerId!: string;

  @Prop({ type: String, required: true, enum: ORDER_STATUSES })
  status!: OrderStatus;

  @Prop({ type: [SchemaFactory.createForClass(OrderItem)], required: true })
  items!: OrderItem[];

  /** Sum of quantity x price over the items, exact (Decimal128). */
  @Prop({ type: Types.Decimal128, required: true })
  total!: Types.Decimal128;
}

export type OrderDocument = HydratedDocument<Order>;
export const OrderSchema = SchemaFactory.createForClass(Order);
