/**
 * Fakes shared by the dispatcher's specs: in-memory markers and writes with real
 * rollback, Kafka messages, and handlers that record their calls. Test code only (not built into the
 * package: tsconfig.lib.json leaves out *.fixtures.ts).
 */
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
export interface FakeSession {
  writes: string[];
}

/**
 * Markers and committed writes in memory, with real rollback: a shared transaction's writes and
 * markers land together or not at all, as in MongoDB.
 */
export class TransactionalExecutor extends EffectExecutor {
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

export function message(offset: number, eventId: string, operationType = 'insert'): ChangeMessage {
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

export const garbage = (offset: number): ChangeMessage => ({
  ...message(offset, 'x'),
  value: Buffer.from('{oops'),
});

export type Invoke = (event: { _id: { _data: string } }, ctx: ChangeContext) => Promise<unknown>;

export function handler(id: string, invoke: Invoke, extra: Partial<ChangeHandlerRegistration> = {}) {
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
export function writer(id: string, failOn: string[] = [], extra: Partial<ChangeHandlerRegistration> = {}) {
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
export function batchWriter(
  id: string,
  failOn: string[] = [],
  extra: Partial<ChangeHandlerRegistration> = {},
) {
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

export function setup(...handlers: ChangeHandlerRegistration[]) {
  const registry = new ChangeHandlerRegistry();
  registry.register(handlers);
  const executor = new TransactionalExecutor();
  const sink = new RecordingDeadLetterSink();
  const waits: number[] = [];
  const timer: RetryTimer = { wait: async (ms) => void waits.push(ms) };
  return { dispatcher: new ChangeDispatcher(registry, executor, sink, timer), executor, sink, waits };
}

export const outcomes = (reports: { handlers: { outcome: string }[] }[]) =>
  reports.map((r) => r.handlers.map((h) => h.outcome));
