import { Inject, Injectable } from '@nestjs/common';
import {
  ChangeBatchHandler,
  ChangeHandler,
  type ChangeBatchContext,
  type ChangeContext,
  type ChangeEvent,
} from 'nest-change-stream';

/** An order as the shop writes it. */
export interface Order {
  _id: string;
  status: string;
  total: number;
}

/** Where the handlers say what they saw: stdout in the app, an array in the unit test. */
export const ORDER_SINK = Symbol('ORDER_SINK');
export type OrderSink = (line: string) => void;

@Injectable()
export class OrderHandlers {
  constructor(@Inject(ORDER_SINK) private readonly sink: OrderSink) {}

  @ChangeHandler<Order>('orders')
  async onOrder(event: ChangeEvent<Order>, ctx: ChangeContext): Promise<void> {
    if (event.operationType !== 'insert') return;
    // A delete has no fullDocument: narrowing on operationType is what makes this line compile.
    this.sink(`single ${event.fullDocument._id} ${event.fullDocument.total} ${ctx.idempotencyKey}`);
  }

  @ChangeBatchHandler<Order>('orders')
  async onOrders(events: ChangeEvent<Order>[], ctx: ChangeBatchContext): Promise<void> {
    for (const [i, event] of events.entries()) {
      if (event.operationType === 'insert')
        this.sink(`batch ${event.fullDocument._id} ${ctx.contexts[i].eventId}`);
    }
  }
}
