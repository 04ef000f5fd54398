import { Injectable, Logger } from '@nestjs/common';
import { decodeChangeEvent, type DecodedChangeEvent } from '../events/change-event.codec';
import type { ChangeEvent } from '../events/change-event.interface';
import { EffectExecutor, type EffectOutcome } from '../idempotency/effect-executor';
import { idempotencyKeyOf } from '../idempotency/idempotency-key';
import { ChangeContext } from './change-context';
import { ChangeHandlerRegistry, type ChangeHandlerRegistration } from './change-handler.registry';
import { headersAsStrings, type ChangeMessage } from './change-message';
import { DeadLetterSink, describeError, type DeadLetter } from './dead-letter';
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

/** Lets the consumer interrupt retry waits when it drains. */
export interface DispatchControl {
  signal?: AbortSignal;
}

/** Backoff of dead-letter publishing, which is retried until it succeeds or the worker drains. */
const DEAD_LETTER_BACKOFF = { initialDelayMs: 500, maxDelayMs: 30_000, factor: 2 } as const;

/**
 * Runs one Kafka message through the handlers of its topic, one after the other: decode (or
 * dead-letter at once), filter, run each handler exactly once through the EffectExecutor with
 * retries and backoff, then dead-letter on the last failure. Never throws for a handler's error.
 * Internal; the testing kit drives the same class.
 */
@Injectable()
export class ChangeDispatcher {
  private readonly logger = new Logger('ChangeStream');

  constructor(
    private readonly registry: ChangeHandlerRegistry,
    private readonly executor: EffectExecutor,
    private readonly deadLetters: DeadLetterSink,
    private readonly timer: RetryTimer,
  ) {}

  async dispatch(message: ChangeMessage, control: DispatchControl = {}): Promise<DispatchReport> {
    let decoded: DecodedChangeEvent;
    try {
      decoded = decodeChangeEvent(message.value, message.headers);
    } catch (error) {
      this.logger.warn(
        `Undecodable message at ${where(message)}, dead-lettering it: ${describeError(error)}`,
      );
      const stored = await this.deadLetter({ message, reason: 'undecodable', error, attempts: 0 }, control);
      return { complete: stored, undecodable: error, handlers: [] };
    }
    const handlers: HandlerReport[] = [];
    for (const handler of this.registry.forTopic(message.topic)) {
      const report = await this.runHandler(handler, decoded, message, control);
      handlers.push(report);
      if (report.outcome === 'interrupted') return { complete: false, handlers };
    }
    return { complete: true, handlers };
  }

  private async runHandler(
    handler: ChangeHandlerRegistration,
    decoded: DecodedChangeEvent,
    message: ChangeMessage,
    control: DispatchControl,
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
    const marker = {
      handlerId: handler.id,
      eventId,
      topic: message.topic,
      partition: message.partition,
      offset: message.offset,
    };
    const epoch = decoded.epoch === undefined ? undefined : Number(decoded.epoch);
    const base = {
      eventId,
      handlerId: handler.id,
      idempotencyKey: idempotencyKeyOf(handler.id, eventId),
      topic: message.topic,
      partition: message.partition,
      offset: message.offset,
      epoch: Number.isFinite(epoch) ? epoch : undefined,
      maxAttempts: handler.retry.attempts,
      transactional: handler.transaction,
      key: message.key?.toString(),
      headers: Object.freeze(headersAsStrings(message.headers)),
    };

    let attempt = 0;
    let outages = 0;
    let lastError: unknown;
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
    const stored = await this.deadLetter(letter, control);
    return report(stored ? 'dead-lettered' : 'interrupted', attempt, lastError);
  }

  /** Stores a dead letter, retrying until it is stored (true) or the worker drains (false). */
  private async deadLetter(letter: DeadLetter, control: DispatchControl): Promise<boolean> {
    for (let failures = 1; ; failures++) {
      try {
        await this.deadLetters.send(letter);
        return true;
      } catch (error) {
        const delay = retryDelay(DEAD_LETTER_BACKOFF, failures);
        this.logger.error(
          `Dead-lettering ${where(letter.message)} failed, retrying in ${delay} ms: ${describeError(error)}`,
        );
        if (!(await this.wait(delay, control))) return false;
      }
    }
  }

  /** Waits `ms`; false when the worker started draining meanwhile. */
  private async wait(ms: number, { signal }: DispatchControl): Promise<boolean> {
    if (signal?.aborted) return false;
    await this.timer.wait(ms, signal);
    return !signal?.aborted;
  }
}

function where(message: ChangeMessage): string {
  return `${message.topic}[${message.partition}]@${message.offset}`;
}
