import { ChangeHandlerRegistry } from '../handlers/change-handler.registry';
import { RecordingDeadLetterSink } from '../testing/recording-dead-letter.sink';
import { ChangeDispatcher } from './change-dispatcher';
import {
  garbage,
  handler,
  message,
  outcomes,
  setup,
  TransactionalExecutor,
  writer,
  type FakeSession,
} from './change-dispatcher.fixtures';
import type { RetryTimer } from './retry-timer';

describe('ChangeDispatcher.dispatchBatch: the shared transaction', () => {
  it('commits the effects and markers of consecutive messages in one shared transaction', async () => {
    const h = writer('h');
    const { dispatcher, executor } = setup(h.registration);
    const result = await dispatcher.dispatchBatch([message(1, 'e1'), message(2, 'e2'), message(3, 'e3')]);
    expect(result).toMatchObject({ shared: 3, fellBack: false });
    expect(outcomes(result.reports)).toEqual([['applied'], ['applied'], ['applied']]);
    expect(result.reports.every((r) => r.complete)).toBe(true);
    expect(executor.transactions).toEqual([
      { shared: true, markers: ['h/e1', 'h/e2', 'h/e3'], committed: true },
    ]);
    expect(executor.committed).toEqual(['h:e1', 'h:e2', 'h:e3']);
  });

  it('isolates a failing message: the others are applied once, it retries alone and is dead-lettered', async () => {
    const h = writer('h', ['e2']);
    const { dispatcher, executor, sink, waits } = setup(h.registration);
    const messages = [message(1, 'e1'), message(2, 'e2'), message(3, 'e3'), message(4, 'e4')];
    const result = await dispatcher.dispatchBatch(messages);
    expect(outcomes(result.reports)).toEqual([['applied'], ['dead-lettered'], ['applied'], ['applied']]);
    expect(result.reports.every((r) => r.complete)).toBe(true);
    expect(result.fellBack).toBe(false);
    // the failure in the shared transaction was attempt 1; attempts: 2 leaves one retry, alone
    expect(h.attempts.filter((a) => a.eventId === 'e2')).toEqual([
      { eventId: 'e2', attempt: 1 },
      { eventId: 'e2', attempt: 2 },
    ]);
    expect(waits).toEqual([10]);
    expect(sink.letters).toEqual([
      expect.objectContaining({ reason: 'handler-failed', handlerId: 'h', attempts: 2 }),
    ]);
    expect(sink.letters[0].message.offset).toBe('2');
    expect(executor.committed).toEqual(['h:e1', 'h:e3', 'h:e4']);
    expect(executor.transactions.filter((t) => t.committed).map((t) => t.markers)).toEqual([
      ['h/e1'],
      ['h/e3', 'h/e4'],
    ]);
  });

  it('counts the shared failure as the first attempt: one attempt allowed means dead-lettered at once', async () => {
    const h = writer('h', ['e1']);
    h.registration.retry = { ...h.registration.retry, attempts: 1 };
    const { dispatcher, sink, waits } = setup(h.registration);
    const result = await dispatcher.dispatchBatch([message(1, 'e1'), message(2, 'e2')]);
    expect(outcomes(result.reports)).toEqual([['dead-lettered'], ['applied']]);
    expect(h.attempts.filter((a) => a.eventId === 'e1')).toHaveLength(1);
    expect(waits).toEqual([]);
    expect(sink.letters).toEqual([expect.objectContaining({ attempts: 1 })]);
  });
});

describe('ChangeDispatcher.dispatchBatch: falling back to one transaction per message', () => {
  it('falls back to one transaction per message on a redelivery, skipping what was applied', async () => {
    const h = writer('h');
    const { dispatcher, executor } = setup(h.registration);
    await dispatcher.dispatchBatch([message(1, 'e1'), message(2, 'e2')]);
    const result = await dispatcher.dispatchBatch([message(1, 'e1'), message(2, 'e2'), message(3, 'e3')]);
    expect(result).toMatchObject({ shared: 0, fellBack: true });
    expect(outcomes(result.reports)).toEqual([['duplicate'], ['duplicate'], ['applied']]);
    expect(executor.committed).toEqual(['h:e1', 'h:e2', 'h:e3']);
  });

  it('falls back when the shared transaction fails without a handler error (a write conflict, say)', async () => {
    const h = writer('h');
    const { dispatcher, executor } = setup(h.registration);
    executor.failShared = () =>
      Object.assign(new Error('WriteConflict'), { errorLabels: ['TransientTransactionError'] });
    const result = await dispatcher.dispatchBatch([message(1, 'e1'), message(2, 'e2')]);
    expect(result.fellBack).toBe(true);
    expect(outcomes(result.reports)).toEqual([['applied'], ['applied']]);
    expect(executor.committed).toEqual(['h:e1', 'h:e2']);
    expect(h.attempts.map((a) => a.attempt)).toEqual([1, 1, 1, 1]);
  });

  it('does not count a MongoDB outage in the shared transaction as an attempt', async () => {
    let down = true;
    const registration = handler('h', async (_event, ctx) => {
      if (down) {
        down = false;
        throw Object.assign(new Error('connect ECONNREFUSED'), { name: 'MongoServerSelectionError' });
      }
      (ctx.session as unknown as FakeSession).writes.push(`h:${ctx.eventId}`);
    });
    registration.retry = { ...registration.retry, attempts: 1 };
    const { dispatcher, executor, sink } = setup(registration);
    const result = await dispatcher.dispatchBatch([message(1, 'e1'), message(2, 'e2')]);
    expect(result.fellBack).toBe(true);
    expect(outcomes(result.reports)).toEqual([['applied'], ['applied']]);
    expect(sink.letters).toEqual([]);
    expect(executor.committed).toEqual(['h:e1', 'h:e2']);
  });
});

describe('ChangeDispatcher.dispatchBatch: undecodable messages, non-transactional handlers and drains', () => {
  it('dead-letters an undecodable message in place and shares the transaction of its neighbours', async () => {
    const h = writer('h');
    const { dispatcher, executor, sink } = setup(h.registration);
    const result = await dispatcher.dispatchBatch([
      message(1, 'e1'),
      garbage(2),
      message(3, 'e3'),
      message(4, 'e4'),
    ]);
    expect(outcomes(result.reports)).toEqual([['applied'], [], ['applied'], ['applied']]);
    expect(sink.letters).toEqual([expect.objectContaining({ reason: 'undecodable', attempts: 0 })]);
    expect(sink.letters[0].message.offset).toBe('2');
    expect(executor.transactions.map((t) => [t.shared, t.markers])).toEqual([
      [false, ['h/e1']],
      [true, ['h/e3', 'h/e4']],
    ]);
  });

  it('runs non-transactional handlers after the shared commit, and reports filtered handlers', async () => {
    const order: string[] = [];
    const tx = handler(
      'tx',
      async (_event, ctx) => {
        order.push(`tx:${ctx.eventId}`);
        (ctx.session as unknown as FakeSession).writes.push(`tx:${ctx.eventId}`);
      },
      { operationTypes: new Set(['insert']) },
    );
    const outside = handler(
      'outside',
      async (_event, ctx) => {
        order.push(`outside:${ctx.eventId}:${executor.committed.includes(`tx:${ctx.eventId}`)}`);
      },
      { transaction: false },
    );
    const { dispatcher, executor } = setup(tx, outside);
    const result = await dispatcher.dispatchBatch([message(1, 'e1'), message(2, 'e2', 'delete')]);
    expect(result.reports.map((r) => r.handlers.map((h) => [h.handlerId, h.outcome]))).toEqual([
      [
        ['tx', 'applied'],
        ['outside', 'applied'],
      ],
      [
        ['tx', 'filtered'],
        ['outside', 'applied'],
      ],
    ]);
    expect(order).toEqual(['tx:e1', 'outside:e1:true', 'outside:e2:false']);
  });

  it('stops at the message a drain interrupted and reports it incomplete', async () => {
    const drain = new AbortController();
    const h = writer('h', ['e2']);
    const registry = new ChangeHandlerRegistry();
    registry.register([h.registration]);
    const executor = new TransactionalExecutor();
    const timer: RetryTimer = { wait: async () => drain.abort() };
    const dispatcher = new ChangeDispatcher(registry, executor, new RecordingDeadLetterSink(), timer);
    const result = await dispatcher.dispatchBatch([message(1, 'e1'), message(2, 'e2'), message(3, 'e3')], {
      signal: drain.signal,
    });
    expect(result.reports.map((r) => r.complete)).toEqual([true, false]);
    expect(executor.committed).toEqual(['h:e1']);
  });
});
