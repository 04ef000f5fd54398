import type { ClientSession } from 'mongodb';
import { CHANGE_EVENT_HEADERS } from '../events/change-event.headers';
import {
  EffectExecutor,
  SharedEffectError,
  type EffectOutcome,
  type SharedEffect,
} from '../idempotency/effect-executor';
import type { ProcessedMarker } from '../idempotency/processed-event.store';
import { RecordingDeadLetterSink } from '../testing/recording-dead-letter.sink';
import type { ChangeBatchContext, ChangeContext } from '../handlers/change-context';
import { ChangeDispatcher } from './change-dispatcher';
import {
  ChangeHandlerRegistry,
  singleEventInvoker,
  type BatchHandlerInvoker,
  type ChangeHandlerRegistration,
} from '../handlers/change-handler.registry';
import type { ChangeMessage } from './change-message';
import type { RetryTimer } from './retry-timer';

/** A session whose writes count only when its transaction commits. */
interface FakeSession {
  writes: string[];
}

/**
 * Markers and committed writes in memory, with real rollback: a shared transaction's writes and
 * markers land together or not at all, as in MongoDB.
 */
class TransactionalExecutor extends EffectExecutor {
  readonly markers = new Set<string>();
  readonly committed: string[] = [];
  readonly transactions: Array<{ shared: boolean; markers: string[]; committed: boolean }> = [];
  failShared: (() => Error) | undefined;

  async run(
    marker: ProcessedMarker,
    _transactional: boolean,
    effect: (session: ClientSession) => Promise<unknown>,
  ): Promise<EffectOutcome> {
    const key = `${marker.handlerId}/${marker.eventId}`;
    if (this.markers.has(key)) return 'duplicate';
    const tx = { shared: false, markers: [key], committed: false };
    this.transactions.push(tx);
    const session: FakeSession = { writes: [] };
    await effect(session as unknown as ClientSession);
    this.commit(tx, session);
    return 'applied';
  }

  async runShared(effects: readonly SharedEffect[]): Promise<void> {
    const keys = effects.flatMap(({ markers }) => markers.map((m) => `${m.handlerId}/${m.eventId}`));
    const tx = { shared: true, markers: keys, committed: false };
    this.transactions.push(tx);
    const duplicate = keys.find((key) => this.markers.has(key));
    if (duplicate) throw new Error(`E11000 duplicate key: ${duplicate}`);
    const session: FakeSession = { writes: [] };
    for (let index = 0; index < effects.length; index++) {
      try {
        await effects[index].effect(session as unknown as ClientSession);
      } catch (error) {
        throw new SharedEffectError(index, error);
      }
    }
    const failure = this.failShared?.();
    if (failure) throw failure;
    this.commit(tx, session);
  }

  async recordDeadLettered(marker: ProcessedMarker): Promise<void> {
    this.markers.add(`${marker.handlerId}/${marker.eventId}`);
  }

  private commit(tx: { markers: string[]; committed: boolean }, session: FakeSession): void {
    for (const key of tx.markers) this.markers.add(key);
    this.committed.push(...session.writes);
    tx.committed = true;
  }
}

function message(offset: number, eventId: string, operationType = 'insert'): ChangeMessage {
  const value = JSON.stringify({
    _id: { _data: eventId },
    operationType,
    ns: { db: 'd', coll: 'c' },
    documentKey: { _id: offset },
    ...(operationType === 'delete' ? {} : { fullDocument: { _id: offset } }),
  });
  return {
    topic: 't',
    partition: 0,
    offset: String(offset),
    key: null,
    value: Buffer.from(value),
    headers: { [CHANGE_EVENT_HEADERS.eventId]: eventId },
  };
}

const garbage = (offset: number): ChangeMessage => ({ ...message(offset, 'x'), value: Buffer.from('{oops') });

type Invoke = (event: { _id: { _data: string } }, ctx: ChangeContext) => Promise<unknown>;

function handler(id: string, invoke: Invoke, extra: Partial<ChangeHandlerRegistration> = {}) {
  return {
    id,
    label: `H.${id}`,
    database: 'd',
    collection: 'c',
    topic: 't',
    operationTypes: null,
    filter: undefined,
    retry: { attempts: 2, initialDelayMs: 10, maxDelayMs: 10, factor: 1 },
    transaction: true,
    invoke: invoke as ChangeHandlerRegistration['invoke'],
    ...extra,
  } satisfies ChangeHandlerRegistration;
}

/** A handler that writes `<id>:<eventId>` through its session, and fails on the events listed. */
function writer(id: string, failOn: string[] = [], extra: Partial<ChangeHandlerRegistration> = {}) {
  const attempts: Array<{ eventId: string; attempt: number }> = [];
  const registration = handler(
    id,
    async (_event, ctx) => {
      attempts.push({ eventId: ctx.eventId, attempt: ctx.attempt });
      if (failOn.includes(ctx.eventId)) throw new Error(`${id} rejects ${ctx.eventId}`);
      (ctx.session as unknown as FakeSession).writes.push(`${id}:${ctx.eventId}`);
    },
    extra,
  );
  return { registration, attempts };
}

/** A @ChangeBatchHandler that writes `<id>:<eventId>` per event, and throws when a listed event is in its array. */
function batchWriter(id: string, failOn: string[] = [], extra: Partial<ChangeHandlerRegistration> = {}) {
  const calls: Array<{ eventIds: string[]; attempt: number; lastAttempt: boolean }> = [];
  const invokeBatch: BatchHandlerInvoker = async (events, ctx: ChangeBatchContext) => {
    const eventIds = ctx.contexts.map((c) => c.eventId);
    expect(events.map((e) => (e._id as { _data: string })._data)).toEqual(eventIds);
    calls.push({ eventIds, attempt: ctx.attempt, lastAttempt: ctx.lastAttempt });
    const bad = eventIds.find((e) => failOn.includes(e));
    if (bad) throw new Error(`${id} rejects ${bad}`);
    for (const eventId of eventIds) (ctx.session as unknown as FakeSession).writes.push(`${id}:${eventId}`);
  };
  const registration = handler(id, singleEventInvoker(invokeBatch) as Invoke, { invokeBatch, ...extra });
  return { registration, calls };
}

function setup(...handlers: ChangeHandlerRegistration[]) {
  const registry = new ChangeHandlerRegistry();
  registry.register(handlers);
  const executor = new TransactionalExecutor();
  const sink = new RecordingDeadLetterSink();
  const waits: number[] = [];
  const timer: RetryTimer = { wait: async (ms) => void waits.push(ms) };
  return { dispatcher: new ChangeDispatcher(registry, executor, sink, timer), executor, sink, waits };
}

const outcomes = (reports: { handlers: { outcome: string }[] }[]) =>
  reports.map((r) => r.handlers.map((h) => h.outcome));

describe('ChangeDispatcher.dispatchBatch', () => {
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

  describe('a batch handler (@ChangeBatchHandler)', () => {
    it('gets the wanted events of the run in one call, in the transaction of every marker', async () => {
      const b = batchWriter('b', [], { operationTypes: new Set(['insert']) });
      const h = writer('h');
      const { dispatcher, executor } = setup(b.registration, h.registration);
      const result = await dispatcher.dispatchBatch([
        message(1, 'e1'),
        message(2, 'e2', 'delete'),
        message(3, 'e3'),
      ]);
      expect(result).toMatchObject({ shared: 3, fellBack: false });
      expect(b.calls).toEqual([{ eventIds: ['e1', 'e3'], attempt: 1, lastAttempt: false }]);
      expect(result.reports.map((r) => r.handlers.map((x) => [x.handlerId, x.outcome]))).toEqual([
        [
          ['b', 'applied'],
          ['h', 'applied'],
        ],
        [
          ['b', 'filtered'],
          ['h', 'applied'],
        ],
        [
          ['b', 'applied'],
          ['h', 'applied'],
        ],
      ]);
      expect(executor.transactions).toEqual([
        { shared: true, markers: ['h/e1', 'h/e2', 'h/e3', 'b/e1', 'b/e3'], committed: true },
      ]);
      expect(executor.committed.sort()).toEqual(['b:e1', 'b:e3', 'h:e1', 'h:e2', 'h:e3']);
    });

    it('retries each event alone when the batch call throws: the others applied once, the bad one dead-lettered', async () => {
      const b = batchWriter('b', ['e2']);
      const { dispatcher, executor, sink } = setup(b.registration);
      const result = await dispatcher.dispatchBatch([message(1, 'e1'), message(2, 'e2'), message(3, 'e3')]);
      expect(result.fellBack).toBe(true);
      expect(outcomes(result.reports)).toEqual([['applied'], ['dead-lettered'], ['applied']]);
      expect(b.calls).toEqual([
        { eventIds: ['e1', 'e2', 'e3'], attempt: 1, lastAttempt: false },
        { eventIds: ['e1'], attempt: 1, lastAttempt: false },
        { eventIds: ['e2'], attempt: 1, lastAttempt: false },
        { eventIds: ['e2'], attempt: 2, lastAttempt: true },
        { eventIds: ['e3'], attempt: 1, lastAttempt: false },
      ]);
      expect(sink.letters).toEqual([
        expect.objectContaining({ reason: 'handler-failed', handlerId: 'b', attempts: 2 }),
      ]);
      expect(executor.committed).toEqual(['b:e1', 'b:e3']);
    });

    it('never gets a redelivered event again', async () => {
      const b = batchWriter('b');
      const { dispatcher, executor } = setup(b.registration);
      await dispatcher.dispatchBatch([message(1, 'e1'), message(2, 'e2')]);
      const result = await dispatcher.dispatchBatch([message(1, 'e1'), message(2, 'e2'), message(3, 'e3')]);
      expect(outcomes(result.reports)).toEqual([['duplicate'], ['duplicate'], ['applied']]);
      expect(b.calls.map((c) => c.eventIds)).toEqual([['e1', 'e2'], ['e3']]);
      expect(executor.committed).toEqual(['b:e1', 'b:e2', 'b:e3']);
    });

    it('gets an array of one through dispatch (one message)', async () => {
      const b = batchWriter('b');
      const { dispatcher, executor } = setup(b.registration);
      const report = await dispatcher.dispatch(message(1, 'e1'));
      expect(report.handlers).toEqual([{ handlerId: 'b', outcome: 'applied', attempts: 1 }]);
      expect(b.calls).toEqual([{ eventIds: ['e1'], attempt: 1, lastAttempt: false }]);
      expect(executor.committed).toEqual(['b:e1']);
    });
  });
});
