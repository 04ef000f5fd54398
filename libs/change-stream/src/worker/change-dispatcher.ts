import { Injectable, Logger } from '@nestjs/common';
import type { DecodedChangeEvent } from '../events/change-event.codec';
import { ChangeHandlerRegistry } from '../handlers/change-handler.registry';
import { EffectExecutor } from '../idempotency/effect-executor';
import { AttemptPolicy, type PriorFailure } from './attempt-policy';
import type { ChangeMessage } from './change-message';
import { DeadLetterSink } from './dead-letter';
import { DeadLetterRecorder } from './dead-letter.recorder';
import type { BatchDispatchReport, DispatchControl, DispatchReport, HandlerReport } from './dispatch-report';
import { decode } from './handler-inputs';
import { RetryTimer } from './retry-timer';
import { SharedTransactionPlanner } from './shared-transaction.planner';

/**
 * Runs Kafka messages through the handlers of their topic, one handler after the other: decode (or
 * dead-letter at once), then each handler through the {@link AttemptPolicy} (filter, attempts,
 * dead letter). Consecutive messages go through the {@link SharedTransactionPlanner} first. Never
 * throws for a handler's error. Internal; the testing kit drives the same class.
 */
@Injectable()
export class ChangeDispatcher {
  private readonly attempts: AttemptPolicy;
  private readonly planner: SharedTransactionPlanner;

  constructor(
    private readonly registry: ChangeHandlerRegistry,
    executor: EffectExecutor,
    sink: DeadLetterSink,
    timer: RetryTimer,
  ) {
    const logger = new Logger('ChangeStream');
    const deadLetters = new DeadLetterRecorder(sink, executor, logger);
    this.attempts = new AttemptPolicy(executor, deadLetters, timer, logger);
    this.planner = new SharedTransactionPlanner(registry, executor, logger, (...args) =>
      this.dispatchDecoded(...args),
    );
  }

  /** Dispatches one message. */
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
    return this.planner.dispatch(messages, messages.map(decode), control);
  }

  private async dispatchDecoded(
    message: ChangeMessage,
    decoded: DecodedChangeEvent | Error,
    control: DispatchControl,
    done: { prior?: PriorFailure; planned?: ReadonlyMap<string, HandlerReport> } = {},
  ): Promise<DispatchReport> {
    if (decoded instanceof Error) return this.attempts.undecodable(message, decoded, control);
    const { prior, planned } = done;
    const handlers: HandlerReport[] = [];
    for (const handler of this.registry.forTopic(message.topic)) {
      const report =
        planned?.get(handler.id) ??
        (await this.attempts.run(
          handler,
          decoded,
          message,
          control,
          prior?.handlerId === handler.id ? prior : undefined,
        ));
      handlers.push(report);
      if (report.outcome === 'interrupted') return { complete: false, handlers };
    }
    return { complete: true, handlers };
  }
}
