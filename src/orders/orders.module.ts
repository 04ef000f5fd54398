import { Module } from '@nestjs/common';
import { MongooseModule } from '@nestjs/mongoose';
import { Order, OrderSchema } from './order.schema';
import { OrderReadModelsHandler } from './order-read-models.handler';
import { OrdersController } from './orders.controller';
import { OrdersService } from './orders.service';
import { CustomerStats, CustomerStatsSchema, OrderView, OrderViewSchema } from './read-models.schema';

/** The orders domain: HTTP API, the `shop.orders` collection, and the handlers of its read models. */
@Module({
  imports: [
    MongooseModule.forFeature([
      { name: Order.name, schema: OrderSchema },
      { name: OrderView.name, schema: OrderViewSchema },
      { name: CustomerStats.name, schema: CustomerStatsSchema },
    ]),
  ],
  controllers: [OrdersController],
  providers: [OrdersService, OrderReadModelsHandler],
})
export class OrdersModule {}
