import { Injectable } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { Decimal128, ObjectId } from 'bson';
import { ChangeHandler } from '../handlers/change-handler.decorator';
import { CHANGE_EVENT_HEADERS } from '../events/change-event.headers';
import type { ChangeEvent, InsertEvent } from '../events/change-event.interface';
import { idempotencyKeyOf } from '../idempotency/idempotency-key';
import { changeEvents, ChangeStreamTester, ChangeStreamTestingModule } from '../testing';
import type { ChangeContext } from '../handlers/change-context';

interface Order {
  _id: ObjectId;
  status: string;
  total: Decimal128;
  placedAt: Date;
}

const calls: Array<{ handler: string; event: ChangeEvent; ctx: ChangeContext }> = [];
let failuresLeft = 0;

@Injectable()
class Orders {
  @ChangeHandler<Order>('orders', { operationTypes: ['insert'] })
  async onInsert(event: InsertEvent<Order>, ctx: ChangeContext) {
    calls.push({ handler: 'onInsert', event, ctx });
  }

  @ChangeHandler<Order>('orders', {
    id: 'flaky',
    retry: { attempts: 3, initialDelayMs: 100, factor: 4 },
    filter: (event) => event.operationType !== 'delete',
  })
  async flaky(event: ChangeEvent<Order>, ctx: ChangeContext) {
    calls.push({ handler: 'flaky', event, ctx });
    if (failuresLeft-- > 0) throw new Error(`failure at attempt ${ctx.attempt}`);
  }
}

let moduleRef: TestingModule;
let tester: ChangeStreamTester;

// One testing module for every group in this file: the groups share the Orders handlers.
beforeAll(async () => {
  moduleRef = await Test.createTestingModule({
    imports: [ChangeStreamTestingModule.forRoot({ database: 'shop' })],
    providers: [Orders],
  }).compile();
  await moduleRef.init();
  tester = moduleRef.get(ChangeStreamTester);
});
afterAll(() => moduleRef.close());
beforeEach(() => {
  calls.length = 0;
  failuresLeft = 0;
  tester.reset();
});

const order = (): Order => ({
  _id: new ObjectId(),
  status: 'new',
  total: Decimal128.fromString('12.50'),
  placedAt: new Date('2025-01-01T00:00:00Z'),
});

describe('ChangeDispatcher (through the testing kit): delivery, duplicates and filters', () => {
  it('delivers a decoded event with BSON types and a full context to each matching handler, in order', async () => {
    const doc = order();
    const event = changeEvents.insert('orders', doc, { db: 'shop' });
    const report = await tester.dispatch(event, { epoch: 7, partition: 2 });

    expect(report).toEqual({
      complete: true,
      handlers: [
        { handlerId: 'Orders.onInsert', outcome: 'applied', attempts: 1 },
        { handlerId: 'flaky', outcome: 'applied', attempts: 1 },
      ],
    });
    expect(calls.map((c) => c.handler)).toEqual(['onInsert', 'flaky']);
    const { event: received, ctx } = calls[0];
    expect(received).toEqual(event);
    const full = (received as InsertEvent<Order>).fullDocument;
    expect(full._id).toBeInstanceOf(ObjectId);
    expect(full.total).toBeInstanceOf(Decimal128);
    expect(full.placedAt).toBeInstanceOf(Date);
    expect(ctx).toMatchObject({
      eventId: event._id._data,
      handlerId: 'Orders.onInsert',
      idempotencyKey: idempotencyKeyOf('Orders.onInsert', event._id._data),
      topic: 'cdc.shop.orders',
      partition: 2,
      epoch: 7,
      attempt: 1,
      maxAttempts: 5,
      transactional: true,
    });
    expect(ctx.headers[CHANGE_EVENT_HEADERS.eventId]).toBe(event._id._data);
    expect(Object.isFrozen(ctx)).toBe(true);
  });

  it('skips a redelivered event for the handlers that applied it', async () => {
    const event = changeEvents.insert('orders', order(), { db: 'shop' });
    await tester.dispatch(event);
    const again = await tester.dispatch(event);
    expect(again.handlers.map((h) => h.outcome)).toEqual(['duplicate', 'duplicate']);
    expect(calls).toHaveLength(2);
  });

  it('filters by operation type and by predicate without leaving a marker', async () => {
    const id = new ObjectId();
    const update = await tester.dispatch(
      changeEvents.update<Order>('orders', id, { updatedFields: { status: 'paid' } }, { db: 'shop' }),
    );
    expect(update.handlers.map((h) => [h.handlerId, h.outcome])).toEqual([
      ['Orders.onInsert', 'filtered'],
      ['flaky', 'applied'],
    ]);
    const deleted = changeEvents.delete<Order>('orders', id, { db: 'shop' });
    const report = await tester.dispatch(deleted);
    expect(report.handlers.map((h) => h.outcome)).toEqual(['filtered', 'filtered']);
    expect(tester.isProcessed('flaky', deleted._id._data)).toBe(false);
  });
});

describe('ChangeDispatcher (through the testing kit): retries and dead letters', () => {
  it('retries a throwing handler with exponential backoff and applies it when an attempt succeeds', async () => {
    failuresLeft = 2;
    const event = changeEvents.replace('orders', order(), { db: 'shop' });
    const report = await tester.dispatch(event);
    expect(report.handlers).toEqual([
      { handlerId: 'Orders.onInsert', outcome: 'filtered', attempts: 0 },
      { handlerId: 'flaky', outcome: 'applied', attempts: 3 },
    ]);
    expect(calls.map((c) => c.ctx.attempt)).toEqual([1, 2, 3]);
    expect(new Set(calls.map((c) => c.ctx.idempotencyKey)).size).toBe(1);
    expect(tester.retryDelays).toEqual([100, 400]);
    expect(tester.deadLetters).toEqual([]);
  });

  it('dead-letters after the last attempt, naming handler, error and attempts, and moves on', async () => {
    failuresLeft = 10;
    const event = changeEvents.insert('orders', order(), { db: 'shop' });
    const report = await tester.dispatch(event);
    expect(report.complete).toBe(true);
    expect(report.handlers.map((h) => [h.handlerId, h.outcome, h.attempts])).toEqual([
      ['Orders.onInsert', 'applied', 1],
      ['flaky', 'dead-lettered', 3],
    ]);
    expect(tester.deadLetters).toHaveLength(1);
    expect(tester.deadLetters[0]).toMatchObject({
      reason: 'handler-failed',
      handlerId: 'flaky',
      attempts: 3,
      error: expect.objectContaining({ message: 'failure at attempt 3' }),
      message: { topic: 'cdc.shop.orders' },
    });
  });

  it('records a dead-lettered marker, so a later copy of the event is skipped as a duplicate', async () => {
    failuresLeft = 3;
    const event = changeEvents.insert('orders', order(), { db: 'shop' });
    expect((await tester.dispatch(event)).handlers[1]).toMatchObject({ outcome: 'dead-lettered' });
    expect(tester.isProcessed('flaky', event._id._data)).toBe(true);
    // A replay (failover, rebalance) would now succeed, after newer events: it must not be applied.
    calls.length = 0;
    const again = await tester.dispatch(event);
    expect(again.handlers.map((h) => [h.handlerId, h.outcome])).toEqual([
      ['Orders.onInsert', 'duplicate'],
      ['flaky', 'duplicate'],
    ]);
    expect(calls).toEqual([]);
  });

  it('dead-letters an undecodable message at once, without calling any handler', async () => {
    const report = await tester.deliver({ topic: 'cdc.shop.orders', value: '{"not": "a change event"' });
    expect(report).toMatchObject({ complete: true, handlers: [] });
    expect(String(report.undecodable)).toMatch(
      /UndecodableMessageError: message value is not valid Extended JSON/,
    );
    expect(tester.deadLetters).toEqual([expect.objectContaining({ reason: 'undecodable', attempts: 0 })]);
    expect(calls).toEqual([]);
  });
});
