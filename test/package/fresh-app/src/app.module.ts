import { Module } from '@nestjs/common';
import { ChangeStreamModule, type ChangeStreamModuleOptions } from 'nest-change-stream';
import { ORDER_SINK, OrderHandlers } from './order.handlers';

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

@Module({
  imports: [
    ChangeStreamModule.forRootAsync({
      useFactory: (): ChangeStreamModuleOptions => ({
        mongo: { uri: env('MONGO_URL') },
        kafka: { brokers: env('KAFKA_BROKERS').split(',') },
        redis: { urls: env('REDIS_URLS').split(',') },
        streams: [
          {
            db: env('SHOP_DB'),
            collection: 'orders',
            startAtOperationTime: new Date(Number(env('STREAM_START_MS'))),
          },
        ],
        worker: { groupId: env('GROUP_ID'), database: env('SHOP_DB') },
      }),
    }),
  ],
  providers: [
    OrderHandlers,
    { provide: ORDER_SINK, useValue: (line: string) => process.stdout.write(`HANDLED ${line}\n`) },
  ],
})
export class AppModule {}
