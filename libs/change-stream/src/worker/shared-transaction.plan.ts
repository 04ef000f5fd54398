import type { DecodedChangeEvent } from '../events/change-event.codec';
import type { ChangeEvent } from '../events/change-event.interface';
import { ChangeBatchContext, ChangeContext } from '../handlers/change-context';
import {
  handlerWants,
  type BatchHandlerInvoker,
  type ChangeHandlerRegistration,
} from '../handlers/change-handler.registry';
import type { EffectOutcome, SharedEffect } from '../idempotency/effect-executor';
import type { ProcessedMarker } from '../idempotency/processed-event.store';
import type { PriorFailure } from './attempt-policy';
import type { ChangeMessage } from './change-message';
import type { HandlerReport } from './dispatch-report';
import { contextBaseOf, markerOf, type ContextBase } from './handler-inputs';

/** Why a shared transaction failed: the message (index in the run) and the handler that threw, when one did. */
export class SharedFailure {
  constructor(
    readonly index?: number,
    readonly prior?: PriorFailure,
  ) {}
}

/** Whose call an effect is: a handler's on one message, or (no index) a batch handler's on several. */
export interface EffectOwner {
  index?: number;
  handler: ChangeHandlerRegistration;
  events: number;
}

/** The effects of one shared transaction, in order, and what each message's transactional handlers report once it commits. */
export interface SharedPlan {
  effects: SharedEffect[];
  /** `owners[i]` made `effects[i]`. */
  owners: EffectOwner[];
  /** Per message, by handler id: `applied` (or `duplicate`, see {@link markDuplicates}) or `filtered`. */
  planned: Map<string, HandlerReport>[];
}

/** A batch handler's part of a shared transaction: its wanted events, their contexts (without the session) and markers. */
interface BatchCall {
  events: ChangeEvent[];
  bases: ContextBase[];
  markers: ProcessedMarker[];
}

/**
 * Plans one shared transaction over `messages` (all decoded): one effect per transactional handler
 * call, a batch handler's events gathered into one call after the others. A filter that throws
 * blames its handler and message instead.
 */
export function planSharedTransaction(
  messages: readonly ChangeMessage[],
  decoded: readonly DecodedChangeEvent[],
  handlersOf: (topic: string) => readonly ChangeHandlerRegistration[],
): SharedPlan | SharedFailure {
  const plan: SharedPlan = { effects: [], owners: [], planned: [] };
  const batchCalls = new Map<ChangeHandlerRegistration, BatchCall>();
  for (let index = 0; index < messages.length; index++) {
    const event = decoded[index].event as ChangeEvent;
    const reports = new Map<string, HandlerReport>();
    plan.planned.push(reports);
    for (const handler of handlersOf(messages[index].topic)) {
      if (!handler.transaction) continue;
      let wanted: boolean;
      try {
        wanted = handlerWants(handler, event);
      } catch (error) {
        return new SharedFailure(index, { handlerId: handler.id, error });
      }
      if (!wanted) {
        reports.set(handler.id, { handlerId: handler.id, outcome: 'filtered', attempts: 0 });
        continue;
      }
      const base = contextBaseOf(handler, decoded[index], messages[index]);
      const marker = markerOf(handler, decoded[index], messages[index]);
      reports.set(handler.id, { handlerId: handler.id, outcome: 'applied', attempts: 1 });
      if (handler.invokeBatch) {
        const call = batchCalls.get(handler) ?? { events: [], bases: [], markers: [] };
        batchCalls.set(handler, call);
        call.events.push(event);
        call.bases.push(base);
        call.markers.push(marker);
        continue;
      }
      plan.effects.push({
        markers: [marker],
        effect: (session) => handler.invoke(event, new ChangeContext({ ...base, attempt: 1, session })),
      });
      plan.owners.push({ index, handler, events: 1 });
    }
  }
  for (const [handler, call] of batchCalls) {
    plan.effects.push(batchEffect(handler, call));
    plan.owners.push({ handler, events: call.events.length });
  }
  return plan;
}

function batchEffect(handler: ChangeHandlerRegistration, call: BatchCall): SharedEffect {
  const invokeBatch = handler.invokeBatch as BatchHandlerInvoker;
  return {
    markers: call.markers,
    effect: (session) =>
      invokeBatch(
        call.events,
        new ChangeBatchContext({
          handlerId: handler.id,
          session,
          contexts: call.bases.map((base) => new ChangeContext({ ...base, attempt: 1, session })),
          attempt: 1,
          maxAttempts: handler.retry.attempts,
          lastAttempt: false,
        }),
      ),
  };
}

/** Reports the skipped effects of a shared transaction as duplicates (a batch handler's: for each of its messages). */
export function markDuplicates(outcomes: readonly EffectOutcome[], plan: SharedPlan): void {
  outcomes.forEach((outcome, effect) => {
    if (outcome !== 'duplicate') return;
    const { index, handler } = plan.owners[effect];
    for (const [at, reports] of plan.planned.entries()) {
      const report = reports.get(handler.id);
      if (report && report.outcome === 'applied' && (index === undefined || index === at))
        report.outcome = 'duplicate';
    }
  });
}
