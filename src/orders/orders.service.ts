import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectModel } from '@nestjs/mongoose';
import type { Model, Types } from 'mongoose';
import { centsToDecimal } from './money';
import type { CreateOrderInput } from './order-input';
import { Order, ORDER_TRANSITIONS, type OrderStatus } from './order.schema';
import { CustomerStats, OrderView } from './read-models.schema';

/** An order as the API returns it (decimals as strings). */
export interface OrderResponse {
  id: string;
  customerId: string;
  status: OrderStatus;
  items: Array<{ sku: string; quantity: number; price: string }>;
  total: string;
}

/**
 * Writes the domain collection `shop.orders` (the change stream relays every write) and reads the
 * read models the change handlers maintain.
 */
@Injectable()
export class OrdersService {
  constructor(
    @InjectModel(Order.name) private readonly orders: Model<Order>,
    @InjectModel(OrderView.name) private readonly views: Model<OrderView>,
    @InjectModel(CustomerStats.name) private readonly stats: Model<CustomerStats>,
  ) {}

  async create(input: CreateOrderInput): Promise<OrderResponse> {
    const total = input.items.reduce((sum, item) => sum + item.priceCents * BigInt(item.quantity), 0n);
    const order = await this.orders.create({
      customerId: input.customerId,
      status: 'created',
      items: input.items.map(({ sku, quantity, priceCents }) => ({
        sku,
        quantity,
        price: centsToDecimal(priceCents),
      })),
      total: centsToDecimal(total),
    });
    return toResponse(order.toObject());
  }

  /** Moves an order to `status`; 404 when it does not exist, 409 when the transition is not allowed. */
  async changeStatus(id: Types.ObjectId, status: OrderStatus): Promise<OrderResponse> {
    const from = (Object.keys(ORDER_TRANSITIONS) as OrderStatus[]).filter((s) =>
      ORDER_TRANSITIONS[s].includes(status),
    );
    // NOTE: the status filter makes the check and the write one atomic step (no lost concurrent change).
    const updated = await this.orders
      .findOneAndUpdate({ _id: id, status: { $in: from } }, { $set: { status } }, { new: true })
      .lean();
    if (updated) return toResponse(updated);
    const current = await this.orders.findById(id).lean();
    if (!current) throw new NotFoundException(`order ${id.toHexString()} does not exist`);
    const allowed = ORDER_TRANSITIONS[current.status];
    throw new ConflictException(
      `order ${id.toHexString()} is ${current.status}; it can move to ${allowed.length ? allowed.join(', ') : 'no other status'}, not ${status}`,
    );
  }

  async remove(id: Types.ObjectId): Promise<void> {
    const { deletedCount } = await this.orders.deleteOne({ _id: id });
    if (!deletedCount) throw new NotFoundException(`order ${id.toHexString()} does not exist`);
  }

  async get(id: Types.ObjectId): Promise<OrderResponse> {
    const order = await this.orders.findById(id).lean();
    if (!order) throw new NotFoundException(`order ${id.toHexString()} does not exist`);
    return toResponse(order);
  }

  /** The read model of one order (404 until the handlers caught up, or after deletion). */
  async view(id: Types.ObjectId): Promise<Record<string, unknown>> {
    const view = await this.views.findById(id).lean();
    if (!view) throw new NotFoundException(`order ${id.toHexString()} has no view (yet)`);
    return { ...view, _id: view._id.toHexString(), total: view.total.toString() };
  }

  /** A customer's stats (404 until the handlers saw one of their orders). */
  async customerStats(customerId: string): Promise<Record<string, unknown>> {
    const stats = await this.stats.findById(customerId).lean();
    if (!stats) throw new NotFoundException(`customer ${customerId} has no stats (yet)`);
    return { ...stats, totalSpent: stats.totalSpent?.toString() ?? '0.00' };
  }
}

function toResponse(order: Order & { _id: Types.ObjectId }): OrderResponse {
  return {
    id: order._id.toHexString(),
    customerId: order.customerId,
    status: order.status,
    items: order.items.map(({ sku, quantity, price }) => ({ sku, quantity, price: price.toString() })),
    total: order.total.toString(),
  };
}
