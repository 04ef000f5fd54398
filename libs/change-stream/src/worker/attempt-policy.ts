import type { Logger } from '@nestjs/common';
import type { DecodedChangeEvent } from '../events/change-event.codec';
import type { ChangeEvent } from '../events/change-event.interface';
import { ChangeContext } from '../handlers/change-context';
import { handlerWants, type ChangeHandlerRegistration } from '../handlers/change-handler.registry';
import type { EffectExecutor } from '../idempotency/effect-executor';
import type { ProcessedMarker } from '../idempotency/processed-event.store';
import type { ChangeMessage } from './change-message';
import { describeError, type DeadLetter } from './dead-letter';
import { where, type DeadLetterRecorder } from './dead-letter.recorder';
import type { DispatchControl, DispatchReport, HandlerOutcome, HandlerReport } from './dispatch-report';
import { contextBaseOf, markerOf } from './handler-inputs';
import { isMongoOutage, retryDelay } from './retry-policy';
import type { RetryTimer } from './retry-timer';

/** A handler's failed attempt in a shared transaction: it counts as the first attempt of the retry. */
export interface PriorFailure {
  handlerId: string;
  error: unknown;
}

/**
 * What happens to one event in one handler until the handler is done with it: attempts with
 * backoff up to `retry.attempts`; a MongoDB outage waited out without using attempts up; then the
 * dead letter, with a `dead-lettered` marker so a later copy is a duplicate. A drain cuts any wait
 * short and leaves the message `interrupted`. Never throws for a handler's error. Internal.
 */
export class AttemptPolicy {
  constructor(
    private readonly executor: EffectExecutor,
    private readonly deadLetters: DeadLetterRecorder,
    private readonly timer: RetryTimer,
    private readonly logger: Logger,
  ) {}

  /** Dead-letters a message that cannot be decoded, at once: no handler can run it. */
  async undecodable(
    message: ChangeMessage,
    decodingError: Error,
    control: DispatchControl,
  ): Promise<DispatchReport> {
    const error = decodingError.cause ?? decodingError;
    this.logger.warn(`Undecodable message at ${where(message)}, dead-lettering it: ${describeError(error)}`);
    const letter: DeadLetter = { message, reason: 'undecodable', error, attempts: 0 };
    const stored = await this.deadLetters.record(letter, undefined, (ms) => this.wait(ms, control));
    return { complete: stored, undecodable: error, handlers: [] };
  }

  /** Runs `handler` on the event until it is applied, a duplicate, filtered, dead-lettered or interrupted. */
  async run(
    handler: ChangeHandlerRegistration,
    decoded: DecodedChangeEvent,
    message: ChangeMessage,
    control: DispatchControl,
    prior?: PriorFailure,
  ): Promise<HandlerReport> {
    const event = decoded.event as ChangeEvent;
    const report = reportOf(handler);
    const marker = markerOf(handler, decoded, message);
    const base = contextBaseOf(handler, decoded, message);
    let attempt = 0;
    let outages = 0;
    let lastError: unknown;
    if (prior) {
      // NOTE: the failure in a shared transaction was this handler's first attempt.
      attempt = 1;
      lastError = prior.error;
      const delay = retryDelay(handler.retry, attempt);
      if (attempt < handler.retry.attempts && !(await this.wait(delay, control)))
        return report('interrupted', attempt, prior.error);
    }
    while (attempt < handler.retry.attempts) {
      if (control.signal?.aborted) return report('interrupted', attempt, lastError);
      attempt++;
      try {
        if (!handlerWants(handler, event)) return report('filtered', 0);
        const outcome = await this.executor.run(marker, handler.transaction, (session) =>
          handler.invoke(event, new ChangeContext({ ...base, attempt, session })),
        );
        return report(outcome, attempt);
      } catch (error) {
        lastError = error;
        let delay: number;
        if (isMongoOutage(error)) {
          // NOTE: MongoDB unreachable is not the handler's fault: wait it out without using up attempts.
          attempt--;
          delay = retryDelay(handler.retry, ++outages);
          this.logger.warn(
            `${handler.label}: MongoDB unreachable at ${where(message)}, retrying in ${delay} ms: ${describeError(error)}`,
          );
        } else {
          if (attempt >= handler.retry.attempts) break;
          delay = retryDelay(handler.retry, attempt);
          this.logger.warn(
            `${handler.label} failed attempt ${attempt}/${handler.retry.attempts} on event ${decoded.eventId} at ${where(message)}, retrying in ${delay} ms: ${describeError(error)}`,
          );
        }
        if (!(await this.wait(delay, control))) return report('interrupted', attempt, error);
      }
    }
    return this.deadLetter(
      handler,
      decoded,
      message,
      marker,
      { attempts: attempt, error: lastError },
      control,
    );
  }

  /** Gives the event up for `handler`: the letter, then its dead-lettered marker. */
  private async deadLetter(
    handler: ChangeHandlerRegistration,
    decoded: DecodedChangeEvent,
    message: ChangeMessage,
    marker: ProcessedMarker,
    { attempts, error }: { attempts: number; error: unknown },
    control: DispatchControl,
  ): Promise<HandlerReport> {
    this.logger.error(
      `${handler.label} failed ${attempts} attempt(s) on event ${decoded.eventId} at ${where(message)}; dead-lettering: ${describeError(error)}`,
    );
    const letter: DeadLetter = { message, reason: 'handler-failed', handlerId: handler.id, error, attempts };
    // NOTE: the dead-lettered marker makes a later copy a duplicate: it must not be applied after newer events.
    const stored = await this.deadLetters.record(
      letter,
      marker,
      (ms) => this.wait(ms, control),
      handler.transaction,
    );
    return reportOf(handler)(stored ? 'dead-lettered' : 'interrupted', attempts, error);
  }

  /** Waits `ms`; false when the worker started draining meanwhile. */
  private async wait(ms: number, { signal }: DispatchControl): Promise<boolean> {
    if (signal?.aborted) return false;
    await this.timer.wait(ms, signal);
    return !signal?.aborted;
  }
}

function reportOf(handler: ChangeHandlerRegistration) {
  return (outcome: HandlerOutcome, attempts: number, error?: unknown): HandlerReport => ({
    handlerId: handler.id,
    outcome,
    attempts,
    ...(error === undefined ? {} : { error }),
  });
}
