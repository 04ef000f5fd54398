import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { parseCreateOrder, parseCustomerId, parseOrderId, parseStatusChange } from './order-input';
import { OrdersService, type OrderResponse } from './orders.service';

/** The orders HTTP API. Bodies are validated by hand (order-input.ts): 400 names every bad field. */
@Controller()
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  /** `{ customerId, items: [{ sku, quantity, price }] }` -> 201 with the order (status `created`). */
  @Post('orders')
  create(@Body() body: unknown): Promise<OrderResponse> {
    return this.orders.create(parseCreateOrder(body));
  }

  @Get('orders/:id')
  get(@Param('id') id: string): Promise<OrderResponse> {
    return this.orders.get(parseOrderId(id));
  }

  /** `{ status }` -> 200 with the order; 409 when the current status cannot move there. */
  @Patch('orders/:id/status')
  changeStatus(@Param('id') id: string, @Body() body: unknown): Promise<OrderResponse> {
    return this.orders.changeStatus(parseOrderId(id), parseStatusChange(body));
  }

  @Delete('orders/:id')
  @HttpCode(204)
  remove(@Param('id') id: string): Promise<void> {
    return this.orders.remove(parseOrderId(id));
  }

  /** The `order_views` read model of one order. */
  @Get('orders/:id/view')
  view(@Param('id') id: string): Promise<Record<string, unknown>> {
    return this.orders.view(parseOrderId(id));
  }

  /** The `customer_stats` read model of one customer. */
  @Get('customers/:id/stats')
  stats(@Param('id') id: string): Promise<Record<string, unknown>> {
    return this.orders.customerStats(parseCustomerId(id));
  }
}
