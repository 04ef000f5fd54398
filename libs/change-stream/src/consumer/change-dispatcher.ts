import { Injectable, Logger } from '@nestjs/common';
import { decodeChangeEvent, type DecodedChangeEvent } from '../events/change-event.codec';
import type { ChangeEvent } from '../events/change-event.interface';
import {
  EffectExecutor,
  SharedEffectError,
  type EffectOutcome,
  type SharedEffect,
} from '../idempotency/effect-executor';
import { idempotencyKeyOf } from '../idempotency/idempotency-key';
import type { ProcessedMarker } from '../idempotency/processed-event.store';
import { ChangeBatchContext, ChangeContext, type ChangeContextInit } from './change-context';
import {
  ChangeHandlerRegistry,
  type BatchHandlerInvoker,
  type ChangeHandlerRegistration,
} from './change-handler.registry';
import { headersAsStrings, type ChangeMessage } from './change-message';
import { DeadLetterSink, describeError, type DeadLetter } from './dead-letter';
import { DeadLetterRecorder, where } from './dead-letter.recorder';
import { isMongoOutage, retryDelay } from './retry-policy';
import { RetryTimer } from './retry-timer';

/**
 * What happened to one handler for one message. `filtered`: its operationTypes or filter excluded
 * the event. `interrupted`: shutdown came first; the message stays uncommitted and is redelivered.
 */
export type HandlerOutcome = EffectOutcome | 'filtered' | 'dead-lettered' | 'interrupted';

/** One handler's result for one message. */
export interface HandlerReport {
  handlerId: string;
  outcome: HandlerOutcome;
  /** Attempts made (0 when filtered). */
  attempts: number;
  /** The last error, when an attempt failed. */
  error?: unknown;
}

/** The result of dispatching one message. */
export interface DispatchReport {
  /** True when every handler is done with the message (its offset may be committed). */
  complete: boolean;
  /** Set when the message could not be decoded (it was dead-lettered at once). */
  undecodable?: unknown;
  handlers: HandlerReport[];
}

/** The result of dispatching consecutive messages of one partition. */
export interface BatchDispatchReport {
  /** One report per message, in order, up to and including the first incomplete one. */
  reports: DispatchReport[];
  /** Messages whose transactional effects committed in a shared transaction. */
  shared: number;
  /**
   * True when a shared transaction failed for a reason no handler caused (a write conflict, a
   * redelivered event's marker, an outage, a failed commit) and its messages went one by one.
   */
  fellBack: boolean;
}

/** A handler's failed attempt in a shared transaction: it counts as the first attempt of the retry. */
interface PriorFailure {
  handlerId: string;
  error: unknown;
}

/** A batch handler's part of a shared transaction: its wanted events, their contexts (without the session) and markers. */
interface BatchPlan {
  events: ChangeEvent[];
  bases: Omit<ChangeContextInit, 'attempt' | 'session'>[];
  markers: ProcessedMarker[];
}

/** Lets the consumer interrupt retry waits when it drains. */
export interface DispatchControl {
  signal?: AbortSignal;
}

/**
 * Runs one Kafka message through the handlers of its topic, one after the other: decode (or
 * dead-letter at once), filter, run each handler exactly once through the EffectExecutor with
 * retries and backoff, then dead-letter on the last failure (and record a `dead-lettered` marker, so
 * a later copy is a duplicate). Never throws for a handler's error.
 * Internal; the testing kit drives the same class.
 */
@Injectable()
export class ChangeDispatcher {
  private readonly logger = new Logger('ChangeStream');
  private readonly deadLetters: DeadLetterRecorder;

  constructor(
    private readonly registry: ChangeHandlerRegistry,
    private readonly executor: EffectExecutor,
    sink: DeadLetterSink,
    private readonly timer: RetryTimer,
  ) {
    this.deadLetters = new DeadLetterRecorder(sink, executor, this.logger);
  }

  async dispatch(message: ChangeMessage, control: DispatchControl = {}): Promise<DispatchReport> {
    return this.dispatchDecoded(message, decode(message), control);
  }

  /**
   * Dispatches consecutive messages of one partition, in order. The transactional handlers' effects
   * for all of them, with all their processed-event markers, go into one shared MongoDB transaction;
   * the other handlers run after it commits, message by message. When the shared transaction fails,
   * none of it is applied and the messages go through {@link dispatch} one by one, so duplicates,
   * retries and dead letters are handled exactly as for single messages. A handler that threw in the
   * shared transaction has that failure counted as its first attempt.
   */
  async dispatchBatch(
    messages: readonly ChangeMessage[],
    control: DispatchControl = {},
  ): Promise<BatchDispatchReport> {
    const result: BatchDispatchReport = { reports: [], shared: 0, fellBack: false };
    const decoded = messages.map(decode);
    let next = 0;
    const one = async (index: number, prior?: PriorFailure): Promise<boolean> => {
      const report = await this.dispatchDecoded(messages[index], decoded[index], control, prior);
      result.reports.push(report);
      return report.complete;
    };
    while (next < messages.length) {
      if (control.signal?.aborted) return result;
      let end = next;
      while (end < messages.length && !(decoded[end] instanceof Error)) end++;
      if (end - next < 2) {
        if (!(await one(next))) return result;
        next++;
        continue;
      }
      const run = {
        messages: messages.slice(next, end),
        decoded: decoded.slice(next, end) as DecodedChangeEvent[],
      };
      const failure = await this.runShared(run.messages, run.decoded, control, result);
      if (failure === 'complete') {
        next = end;
        continue;
      }
      if (failure === 'interrupted') return result;
      if (failure instanceof SharedFailure && failure.message !== undefined) {
        // NOTE: the messages before the failing one are batched again; the failing one retries alone.
        const failed = next + failure.message;
        const before = await this.dispatchBatch(messages.slice(next, failed), control);
        result.reports.push(...before.reports);
        result.shared += before.shared;
        result.fellBack ||= before.fellBack;
        if (before.reports.length < failed - next || !before.reports.every((r) => r.complete)) return result;
        if (!(await one(failed, failure.prior))) return result;
        next = failed + 1;
        continue;
      }
      result.fellBack = true;
      for (; next < end; next++) if (!(await one(next))) return result;
    }
    return result;
  }

  private async dispatchDecoded(
    message: ChangeMessage,
    decoded: DecodedChangeEvent | Error,
    control: DispatchControl,
    prior?: PriorFailure,
  ): Promise<DispatchReport> {
    if (decoded instanceof Error) {
      this.logger.warn(
        `Undecodable message at ${where(message)}, dead-lettering it: ${describeError(decoded.cause ?? decoded)}`,
      );
      const error = decoded.cause ?? decoded;
      const letter: DeadLetter = { message, reason: 'undecodable', error, attempts: 0 };
      const stored = await this.deadLetters.record(letter, undefined, (ms) => this.wait(ms, control));
      return { complete: stored, undecodable: error, handlers: [] };
    }
    const handlers: HandlerReport[] = [];
    for (const handler of this.registry.forTopic(message.topic)) {
      const report = await this.runHandler(
        handler,
        decoded,
        message,
        control,
        prior?.handlerId === handler.id ? prior : undefined,
      );
      handlers.push(report);
      if (report.outcome === 'interrupted') return { complete: false, handlers };
    }
    return { complete: true, handlers };
  }

  /**
   * One shared transaction over `messages` (all decoded). On success, pushes their reports (running
   * the non-transactional handlers after the commit) and returns 'complete' or 'interrupted'; on
   * failure pushes nothing and returns what failed.
   */
  private async runShared(
    messages: readonly ChangeMessage[],
    decoded: readonly DecodedChangeEvent[],
    control: DispatchControl,
    result: BatchDispatchReport,
  ): Promise<'complete' | 'interrupted' | SharedFailure> {
    const effects: SharedEffect[] = [];
    // NOTE: owner.message is undefined for a batch handler's call: its failure is no one message's.
    const owners: { message?: number; handler: ChangeHandlerRegistration; events: number }[] = [];
    const planned: Map<string, HandlerReport>[] = [];
    const batches = new Map<ChangeHandlerRegistration, BatchPlan>();
    for (let m = 0; m < messages.length; m++) {
      const message = messages[m];
      const event = decoded[m].event as ChangeEvent;
      const reports = new Map<string, HandlerReport>();
      planned.push(reports);
      for (const handler of this.registry.forTopic(message.topic)) {
        if (!handler.transaction) continue;
        let wanted: boolean;
        try {
          wanted = !handler.operationTypes || handler.operationTypes.has(event.operationType);
          wanted &&= !handler.filter || handler.filter(event);
        } catch (error) {
          return new SharedFailure(m, { handlerId: handler.id, error });
        }
        if (!wanted) {
          reports.set(handler.id, { handlerId: handler.id, outcome: 'filtered', attempts: 0 });
          continue;
        }
        const base = this.contextBase(handler, decoded[m], message);
        const marker = markerOf(handler, decoded[m], message);
        reports.set(handler.id, { handlerId: handler.id, outcome: 'applied', attempts: 1 });
        if (handler.invokeBatch) {
          const plan = batches.get(handler) ?? { events: [], bases: [], markers: [] };
          batches.set(handler, plan);
          plan.events.push(event);
          plan.bases.push(base);
          plan.markers.push(marker);
          continue;
        }
        effects.push({
          markers: [marker],
          effect: (session) => handler.invoke(event, new ChangeContext({ ...base, attempt: 1, session })),
        });
        owners.push({ message: m, handler, events: 1 });
      }
    }
    for (const [handler, plan] of batches) {
      const invokeBatch = handler.invokeBatch as BatchHandlerInvoker;
      effects.push({
        markers: plan.markers,
        effect: (session) =>
          invokeBatch(
            plan.events,
            new ChangeBatchContext({
              handlerId: handler.id,
              session,
              contexts: plan.bases.map((base) => new ChangeContext({ ...base, attempt: 1, session })),
              attempt: 1,
              maxAttempts: handler.retry.attempts,
              lastAttempt: false,
            }),
          ),
      });
      owners.push({ handler, events: plan.events.length });
    }
    if (effects.length > 0) {
      let outcomes: readonly EffectOutcome[] | void;
      try {
        outcomes = await this.executor.runShared(effects);
      } catch (error) {
        if (!(error instanceof SharedEffectError) || isMongoOutage(error.cause)) return new SharedFailure();
        const owner = owners[error.index];
        if (owner.message === undefined) {
          this.logger.warn(
            `${owner.handler.label} failed on a batch of ${owner.events} event(s) at ${where(messages[0])}..${messages[messages.length - 1].offset}, which are applied again one by one: ${describeError(error.cause)}`,
          );
          return new SharedFailure();
        }
        this.logger.warn(
          `${owner.handler.label} failed attempt 1/${owner.handler.retry.attempts} on event ${decoded[owner.message].eventId} at ${where(messages[owner.message])} in a transaction shared with ${messages.length - 1} other message(s), which are applied again: ${describeError(error.cause)}`,
        );
        return new SharedFailure(owner.message, { handlerId: owner.handler.id, error: error.cause });
      }
      // NOTE: offsets mode knows which effects are applied already (a redelivery) and skips them without failing.
      if (outcomes) markDuplicates(outcomes, owners, planned);
      if (!outcomes?.every((outcome) => outcome === 'duplicate')) result.shared += messages.length;
    }
    for (let m = 0; m < messages.length; m++) {
      const handlers: HandlerReport[] = [];
      for (const handler of this.registry.forTopic(messages[m].topic)) {
        const report =
          planned[m].get(handler.id) ?? (await this.runHandler(handler, decoded[m], messages[m], control));
        handlers.push(report);
        if (report.outcome === 'interrupted') {
          result.reports.push({ complete: false, handlers });
          return 'interrupted';
        }
      }
      result.reports.push({ complete: true, handlers });
    }
    return 'complete';
  }

  private contextBase(
    handler: ChangeHandlerRegistration,
    decoded: DecodedChangeEvent,
    message: ChangeMessage,
  ) {
    const epoch = decoded.epoch === undefined ? undefined : Number(decoded.epoch);
    return {
      eventId: decoded.eventId,
      handlerId: handler.id,
      idempotencyKey: idempotencyKeyOf(handler.id, decoded.eventId),
      topic: message.topic,
      partition: message.partition,
      offset: message.offset,
      epoch: Number.isFinite(epoch) ? epoch : undefined,
      maxAttempts: handler.retry.attempts,
      transactional: handler.transaction,
      key: message.key?.toString(),
      headers: Object.freeze(headersAsStrings(message.headers)),
    };
  }

  private async runHandler(
    handler: ChangeHandlerRegistration,
    decoded: DecodedChangeEvent,
    message: ChangeMessage,
    control: DispatchControl,
    prior?: PriorFailure,
  ): Promise<HandlerReport> {
    const event = decoded.event as ChangeEvent;
    const report = (outcome: HandlerOutcome, attempts: number, error?: unknown): HandlerReport => ({
      handlerId: handler.id,
      outcome,
      attempts,
      ...(error === undefined ? {} : { error }),
    });
    if (handler.operationTypes && !handler.operationTypes.has(event.operationType))
      return report('filtered', 0);

    const { eventId } = decoded;
    const marker = markerOf(handler, decoded, message);
    const base = this.contextBase(handler, decoded, message);

    let attempt = 0;
    let outages = 0;
    let lastError: unknown;
    if (prior) {
      // NOTE: the failure in a shared transaction was this handler's first attempt.
      attempt = 1;
      lastError = prior.error;
      if (attempt < handler.retry.attempts) {
        const delay = retryDelay(handler.retry, attempt);
        if (!(await this.wait(delay, control))) return report('interrupted', attempt, prior.error);
      }
    }
    while (attempt < handler.retry.attempts) {
      if (control.signal?.aborted) return report('interrupted', attempt, lastError);
      attempt++;
      try {
        if (handler.filter && !handler.filter(event)) return report('filtered', 0);
        const outcome = await this.executor.run(marker, handler.transaction, (session) =>
          handler.invoke(event, new ChangeContext({ ...base, attempt, session })),
        );
        return report(outcome, attempt);
      } catch (error) {
        lastError = error;
        if (isMongoOutage(error)) {
          // NOTE: MongoDB unreachable is not the handler's fault: wait it out without using up attempts.
          attempt--;
          const delay = retryDelay(handler.retry, ++outages);
          this.logger.warn(
            `${handler.label}: MongoDB unreachable at ${where(message)}, retrying in ${delay} ms: ${describeError(error)}`,
          );
          if (!(await this.wait(delay, control))) return report('interrupted', attempt, error);
          continue;
        }
        if (attempt >= handler.retry.attempts) break;
        const delay = retryDelay(handler.retry, attempt);
        this.logger.warn(
          `${handler.label} failed attempt ${attempt}/${handler.retry.attempts} on event ${eventId} at ${where(message)}, retrying in ${delay} ms: ${describeError(error)}`,
        );
        if (!(await this.wait(delay, control))) return report('interrupted', attempt, error);
      }
    }

    this.logger.error(
      `${handler.label} failed ${attempt} attempt(s) on event ${eventId} at ${where(message)}; dead-lettering: ${describeError(lastError)}`,
    );
    const letter: DeadLetter = {
      message,
      reason: 'handler-failed',
      handlerId: handler.id,
      error: lastError,
      attempts: attempt,
    };
    // NOTE: the dead-lettered marker makes a later copy a duplicate: it must not be applied after newer events.
    const stored = await this.deadLetters.record(
      letter,
      marker,
      (ms) => this.wait(ms, control),
      handler.transaction,
    );
    return report(stored ? 'dead-lettered' : 'interrupted', attempt, lastError);
  }

  /** Waits `ms`; false when the worker started draining meanwhile. */
  private async wait(ms: number, { signal }: DispatchControl): Promise<boolean> {
    if (signal?.aborted) return false;
    await this.timer.wait(ms, signal);
    return !signal?.aborted;
  }
}

/** Why a shared transaction failed: the message (index in the run) and handler whose effect threw, if one did. */
class SharedFailure {
  constructor(
    readonly message?: number,
    readonly prior?: PriorFailure,
  ) {}
}

/** Reports the skipped effects of a shared transaction as duplicates (a batch handler's: for each of its messages). */
function markDuplicates(
  outcomes: readonly EffectOutcome[],
  owners: readonly { message?: number; handler: ChangeHandlerRegistration }[],
  planned: readonly Map<string, HandlerReport>[],
): void {
  outcomes.forEach((outcome, index) => {
    if (outcome !== 'duplicate') return;
    const { message, handler } = owners[index];
    for (const [m, reports] of planned.entries()) {
      const report = reports.get(handler.id);
      if (report && report.outcome === 'applied' && (message === undefined || message === m))
        report.outcome = 'duplicate';
    }
  });
}

/** The decoded message, or an Error whose cause is the decoding error. */
function decode(message: ChangeMessage): DecodedChangeEvent | Error {
  try {
    return decodeChangeEvent(message.value, message.headers);
  } catch (error) {
    return new Error('undecodable', { cause: error });
  }
}

function markerOf(
  handler: ChangeHandlerRegistration,
  decoded: DecodedChangeEvent,
  message: ChangeMessage,
): ProcessedMarker {
  return {
    handlerId: handler.id,
    eventId: decoded.eventId,
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
  };
}
