import 'reflect-metadata';
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Test } from '@nestjs/testing';
import { ChangeStreamTester, ChangeStreamTestingModule, changeEvents } from 'nest-change-stream/testing';
import { ORDER_SINK, OrderHandlers, type Order } from './order.handlers';

test('an inserted order reaches both handlers once, through nest-change-stream/testing', async () => {
  const lines: string[] = [];
  const moduleRef = await Test.createTestingModule({
    imports: [ChangeStreamTestingModule.forRoot({ database: 'shop' })],
    providers: [OrderHandlers, { provide: ORDER_SINK, useValue: (line: string) => lines.push(line) }],
  }).compile();
  await moduleRef.init();
  const tester = moduleRef.get(ChangeStreamTester);
  const event = changeEvents.insert<Order>('orders', { _id: 'o1', status: 'new', total: 5 }, { db: 'shop' });

  const first = await tester.dispatch(event);
  assert.deepEqual(
    first.handlers.map((h) => h.outcome),
    ['applied', 'applied'],
  );
  const again = await tester.dispatch(event);
  assert.deepEqual(
    again.handlers.map((h) => h.outcome),
    ['duplicate', 'duplicate'],
  );
  assert.deepEqual(lines.map((line) => line.split(' ').slice(0, 2).join(' ')).sort(), [
    'batch o1',
    'single o1',
  ]);
  await moduleRef.close();
});
