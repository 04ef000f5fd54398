import { Injectable } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { Decimal128, ObjectId } from 'bson';
import { ChangeHandler } from '../handlers/change-handler.decorator';
import { CHANGE_EVENT_HEADERS } from '../events/change-event.headers';
import type { ChangeEvent, InsertEvent } from '../events/change-event.interface';
import { idempotencyKeyOf } from '../idempotency/idempotency-key';
import { changeEvents, ChangeStreamTester, ChangeStreamTestingModule } from '../testing';
import { RecordingDeadLetterSink } from '../testing/recording-dead-letter.sink';
import type { ChangeContext } from '../handlers/change-context';
import { ChangeDispatcher } from './change-dispatcher';
import { ChangeHandlerRegistry, type ChangeHandlerRegistration } from '../handlers/change-handler.registry';
import { RetryTimer } from './retry-timer';
import { EffectExecutor } from '../idempotency/effect-executor';
import type { ProcessedMarker } from '../idempotency/processed-event.store';
import { DeadLetterSink, type DeadLetter } from './dead-letter';

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

describe('ChangeDispatcher (through the testing kit)', () => {
  let moduleRef: TestingModule;
  let tester: ChangeStreamTester;

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

describe('ChangeDispatcher (with fakes)', () => {
  const message = (value: string) => ({
    topic: 't',
    partition: 0,
    offset: '5',
    key: null,
    value: Buffer.from(value),
    headers: { [CHANGE_EVENT_HEADERS.eventId]: 'E1' },
  });
  const event = JSON.stringify({
    _id: { _data: 'E1' },
    operationType: 'insert',
    ns: { db: 'd', coll: 'c' },
    documentKey: { _id: 1 },
    fullDocument: { _id: 1 },
  });

  function setup(
    invoke: ChangeHandlerRegistration['invoke'],
    sink: DeadLetterSink = new RecordingDeadLetterSink(),
    record: () => Promise<void> = async () => undefined,
  ) {
    const registry = new ChangeHandlerRegistry();
    registry.register([
      {
        id: 'h',
        label: 'H.h',
        database: 'd',
        collection: 'c',
        topic: 't',
        operationTypes: null,
        filter: undefined,
        retry: { attempts: 2, initialDelayMs: 10, maxDelayMs: 10, factor: 1 },
        transaction: true,
        invoke,
      },
    ]);
    const deadLettered: ProcessedMarker[] = [];
    const executor: EffectExecutor = {
      run: async (_m, _t, effect) => (await effect({} as never), 'applied'),
      runShared: async (effects) => {
        for (const { effect } of effects) await effect({} as never);
      },
      recordDeadLettered: async (marker) => {
        await record();
        deadLettered.push(marker);
      },
    };
    const waits: number[] = [];
    const timer: RetryTimer = { wait: async (ms) => void waits.push(ms) };
    return { dispatcher: new ChangeDispatcher(registry, executor, sink, timer), waits, deadLettered };
  }
  const failing = async () => {
    throw new Error('always');
  };
  const noPrimary = () => Object.assign(new Error('no primary'), { name: 'MongoServerSelectionError' });

  it('records the dead-lettered marker after the dead letter is stored, retrying until it is', async () => {
    const order: string[] = [];
    const sink: DeadLetterSink = { send: async () => void order.push('dead letter') };
    let refusals = 2;
    const { dispatcher, deadLettered, waits } = setup(failing, sink, async () => {
      order.push('marker');
      if (refusals-- > 0) throw noPrimary();
    });
    const report = await dispatcher.dispatch(message(event));
    expect(report).toMatchObject({ complete: true, handlers: [{ outcome: 'dead-lettered', attempts: 2 }] });
    expect(order).toEqual(['dead letter', 'marker', 'marker', 'marker']);
    expect(deadLettered).toEqual([{ handlerId: 'h', eventId: 'E1', topic: 't', partition: 0, offset: '5' }]);
    expect(waits).toEqual([10, 500, 1000]);
  });

  it('leaves the message incomplete when the dead-lettered marker cannot be recorded before drain', async () => {
    const drain = new AbortController();
    const { dispatcher, deadLettered } = setup(failing, new RecordingDeadLetterSink(), async () => {
      drain.abort();
      throw noPrimary();
    });
    const report = await dispatcher.dispatch(message(event), { signal: drain.signal });
    expect(report).toMatchObject({ complete: false, handlers: [{ outcome: 'interrupted', attempts: 2 }] });
    expect(deadLettered).toEqual([]);
  });

  it('does not spend attempts while MongoDB is unreachable', async () => {
    let outages = 3;
    const invoke = jest.fn(async () => {
      if (outages-- > 0)
        throw Object.assign(new Error('connect ECONNREFUSED'), { name: 'MongoServerSelectionError' });
    });
    const { dispatcher, waits } = setup(invoke);
    const report = await dispatcher.dispatch(message(event));
    expect(report.handlers).toEqual([{ handlerId: 'h', outcome: 'applied', attempts: 1 }]);
    expect(invoke).toHaveBeenCalledTimes(4);
    expect(waits).toEqual([10, 10, 10]);
  });

  it('stops retrying when the worker drains and leaves the message incomplete', async () => {
    const drain = new AbortController();
    const invoke = jest.fn(async () => {
      drain.abort();
      throw new Error('boom');
    });
    const sink = new RecordingDeadLetterSink();
    const { dispatcher } = setup(invoke, sink);
    const report = await dispatcher.dispatch(message(event), { signal: drain.signal });
    expect(report).toEqual({
      complete: false,
      handlers: [{ handlerId: 'h', outcome: 'interrupted', attempts: 1, error: new Error('boom') }],
    });
    expect(sink.letters).toEqual([]);
  });

  it('retries publishing a dead letter until it is stored', async () => {
    const sent: DeadLetter[] = [];
    let refusals = 2;
    const sink: DeadLetterSink = {
      send: async (letter) => {
        if (refusals-- > 0) throw new Error('broker down');
        sent.push(letter);
      },
    };
    const { dispatcher, waits } = setup(async () => {
      throw new Error('always');
    }, sink);
    const report = await dispatcher.dispatch(message(event));
    expect(report).toMatchObject({ complete: true, handlers: [{ outcome: 'dead-lettered', attempts: 2 }] });
    expect(sent).toHaveLength(1);
    expect(waits).toEqual([10, 500, 1000]);
  });

  it('reports an undecodable message incomplete when its dead letter cannot be stored before drain', async () => {
    const drain = new AbortController();
    const sink: DeadLetterSink = {
      send: async () => {
        drain.abort();
        throw new Error('broker down');
      },
    };
    const { dispatcher } = setup(jest.fn(), sink);
    const report = await dispatcher.dispatch(message('garbage'), { signal: drain.signal });
    expect(report.complete).toBe(false);
  });
});
