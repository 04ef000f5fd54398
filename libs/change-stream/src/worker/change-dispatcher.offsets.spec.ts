/**
 * The dispatcher with an executor in `worker.dedupe: 'offsets'` mode: a shared transaction may skip
 * effects it knows are applied (their messages are at or below the partition's applied offset), and
 * a dead letter tells the executor whether its handler is transactional.
 */
import type { ClientSession } from 'mongodb';
import { EffectExecutor, type EffectOutcome, type SharedEffect } from '../idempotency/effect-executor';
import type { ProcessedMarker } from '../idempotency/processed-event.store';
import { RecordingDeadLetterSink } from '../testing/recording-dead-letter.sink';
import { ChangeDispatcher } from './change-dispatcher';
import { ChangeHandlerRegistry, type ChangeHandlerRegistration } from '../handlers/change-handler.registry';
import { handler, message as fixtureMessage } from './change-dispatcher.fixtures';

/** Applied up to `appliedOffset`: effects of messages at or below it are skipped without failing. */
class OffsetExecutor extends EffectExecutor {
  appliedOffset = -1;
  readonly deadLettered: Array<{ handlerId: string; offset: string; transactional?: boolean }> = [];

  async run(
    marker: ProcessedMarker,
    transactional: boolean,
    effect: (session: ClientSession) => Promise<unknown>,
  ): Promise<EffectOutcome> {
    // NOTE: the real executor dedupes a non-transactional handler with its markers; none exist here.
    if (transactional && Number(marker.offset) <= this.appliedOffset) return 'duplicate';
    await effect({} as ClientSession);
    return 'applied';
  }

  async runShared(effects: readonly SharedEffect[]): Promise<readonly EffectOutcome[]> {
    const outcomes = effects.map(({ markers }) =>
      markers.every((m) => Number(m.offset) <= this.appliedOffset) ? 'duplicate' : 'applied',
    );
    for (let i = 0; i < effects.length; i++)
      if (outcomes[i] === 'applied') await effects[i].effect({} as ClientSession);
    return outcomes;
  }

  async recordDeadLettered(marker: ProcessedMarker, transactional?: boolean): Promise<void> {
    this.deadLettered.push({ handlerId: marker.handlerId, offset: marker.offset, transactional });
  }
}

/** A handler recording `<id>:<offset>`, with one attempt (a failure dead-letters at once). */
function recording(
  id: string,
  transaction: boolean,
  calls: string[],
  fail = false,
): ChangeHandlerRegistration {
  return handler(
    id,
    async (_event, ctx) => {
      calls.push(`${id}:${ctx.offset}`);
      if (fail) throw new Error(`${id} fails`);
    },
    { transaction, retry: { attempts: 1, initialDelayMs: 0, maxDelayMs: 0, factor: 1 } },
  );
}

const message = (offset: number) => fixtureMessage(offset, `e${offset}`);

function setup(...handlers: ChangeHandlerRegistration[]) {
  const registry = new ChangeHandlerRegistry();
  registry.register(handlers);
  const executor = new OffsetExecutor();
  const timer = { wait: async () => undefined };
  return {
    dispatcher: new ChangeDispatcher(registry, executor, new RecordingDeadLetterSink(), timer),
    executor,
  };
}

describe('ChangeDispatcher with applied offsets', () => {
  it('reports the skipped effects of a redelivered batch as duplicates and still runs the non-transactional handlers', async () => {
    const calls: string[] = [];
    const { dispatcher, executor } = setup(recording('tx', true, calls), recording('plain', false, calls));
    executor.appliedOffset = 11;
    const result = await dispatcher.dispatchBatch([message(10), message(11), message(12)]);

    expect(result.fellBack).toBe(false);
    expect(result.reports.map((r) => r.handlers.map((h) => `${h.handlerId}:${h.outcome}`))).toEqual([
      ['tx:duplicate', 'plain:applied'],
      ['tx:duplicate', 'plain:applied'],
      ['tx:applied', 'plain:applied'],
    ]);
    // Non-transactional effects keep their markers (the executor's run decides), so they are not skipped here.
    expect(calls).toEqual(['tx:12', 'plain:10', 'plain:11', 'plain:12']);
    expect(result.shared).toBe(3);
  });

  it('counts nothing as shared when every effect of the batch was applied before', async () => {
    const calls: string[] = [];
    const { dispatcher, executor } = setup(recording('tx', true, calls));
    executor.appliedOffset = 20;
    const result = await dispatcher.dispatchBatch([message(19), message(20)]);
    expect(result.reports.every((r) => r.complete && r.handlers[0].outcome === 'duplicate')).toBe(true);
    expect(result.shared).toBe(0);
    expect(calls).toEqual([]);
  });

  it('tells the executor whether a dead-lettered handler is transactional', async () => {
    const calls: string[] = [];
    const { dispatcher, executor } = setup(
      recording('tx', true, calls, true),
      recording('plain', false, calls, true),
    );
    const report = await dispatcher.dispatch(message(5));
    expect(report.handlers.map((h) => h.outcome)).toEqual(['dead-lettered', 'dead-lettered']);
    expect(executor.deadLettered).toEqual([
      { handlerId: 'tx', offset: '5', transactional: true },
      { handlerId: 'plain', offset: '5', transactional: false },
    ]);
  });
});
