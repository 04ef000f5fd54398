import type { Logger } from '@nestjs/common';
import type { EffectExecutor } from '../idempotency/effect-executor';
import type { ProcessedMarker } from '../idempotency/processed-event.store';
import type { ChangeMessage } from './change-message';
import { describeError, type DeadLetter, type DeadLetterSink } from './dead-letter';
import { DEAD_LETTER_BACKOFF } from '../options/defaults';
import { retryDelay } from './retry-policy';

/** Waits `ms`; false when the worker started draining meanwhile. */
export type DrainAwareWait = (ms: number) => Promise<boolean>;

/**
 * Gives a message up: stores the dead letter, then, for a handler's letter, the handler's
 * `dead-lettered` marker, so a later copy of the event (a replay after a failover, a redelivery after
 * a rebalance) is skipped instead of applied after newer events of its document. The letter goes
 * first: a crash in between leaves no marker, and the redelivered message is retried (at worst
 * dead-lettered twice), never skipped without a letter. Internal.
 */
export class DeadLetterRecorder {
  constructor(
    private readonly sink: DeadLetterSink,
    private readonly executor: EffectExecutor,
    private readonly logger: Logger,
  ) {}

  /**
   * True once the letter (and the marker, when given) are stored; false when the worker drained first.
   * `transactional`: the handler's (offsets mode moves its partition's applied offset past the message).
   */
  async record(
    letter: DeadLetter,
    marker: ProcessedMarker | undefined,
    wait: DrainAwareWait,
    transactional = false,
  ): Promise<boolean> {
    const at = where(letter.message);
    if (!(await this.untilStored(() => this.sink.send(letter), `Dead-lettering ${at}`, wait))) return false;
    if (!marker) return true;
    return this.untilStored(
      () => this.executor.recordDeadLettered(marker, transactional),
      `Recording the dead-lettered marker of ${marker.handlerId} at ${at}`,
      wait,
    );
  }

  private async untilStored(
    store: () => Promise<void>,
    what: string,
    wait: DrainAwareWait,
  ): Promise<boolean> {
    for (let failures = 1; ; failures++) {
      try {
        await store();
        return true;
      } catch (error) {
        const delay = retryDelay(DEAD_LETTER_BACKOFF, failures);
        this.logger.error(`${what} failed, retrying in ${delay} ms: ${describeError(error)}`);
        if (!(await wait(delay))) return false;
      }
    }
  }
}

/** `<topic>[<partition>]@<offset>`, for log lines. */
export function where(message: ChangeMessage): string {
  return `${message.topic}[${message.partition}]@${message.offset}`;
}
