import type { Logger } from '@nestjs/common';
import type { DecodedChangeEvent } from '../events/change-event.codec';
import type { ChangeHandlerRegistry } from '../handlers/change-handler.registry';
import { SharedEffectError, type EffectExecutor } from '../idempotency/effect-executor';
import type { PriorFailure } from './attempt-policy';
import type { ChangeMessage } from './change-message';
import { describeError } from './dead-letter';
import { where } from './dead-letter.recorder';
import type { BatchDispatchReport, DispatchControl, DispatchReport, HandlerReport } from './dispatch-report';
import { isMongoOutage } from './retry-policy';
import {
  markDuplicates,
  planSharedTransaction,
  SharedFailure,
  type SharedPlan,
} from './shared-transaction.plan';

/**
 * Runs one message alone through every handler of its topic. `planned`: reports of the handlers a
 * shared transaction already ran; `prior`: a handler's failure there, its first attempt.
 */
export type DispatchAlone = (
  message: ChangeMessage,
  decoded: DecodedChangeEvent | Error,
  control: DispatchControl,
  done?: { prior?: PriorFailure; planned?: ReadonlyMap<string, HandlerReport> },
) => Promise<DispatchReport>;

/** A shared transaction that committed (or had nothing to run): its planned reports, and whether it applied anything. */
interface SharedCommit {
  planned: SharedPlan['planned'];
  applied: boolean;
}

/**
 * Shares one MongoDB transaction among consecutive messages of one partition and sorts out its
 * failures. A handler that threw is blamed: the messages before its message are batched again, and
 * its message goes alone with that failure as its first attempt. A failure nobody caused (a write
 * conflict, a redelivered event's marker, an outage, a failed commit) sends them all one by one,
 * where duplicates, retries and dead letters are handled as for single messages. Internal.
 */
export class SharedTransactionPlanner {
  constructor(
    private readonly registry: ChangeHandlerRegistry,
    private readonly executor: EffectExecutor,
    private readonly logger: Logger,
    private readonly alone: DispatchAlone,
  ) {}

  /** Dispatches `messages` in order; stops after the first one that is not complete. */
  async dispatch(
    messages: readonly ChangeMessage[],
    decoded: readonly (DecodedChangeEvent | Error)[],
    control: DispatchControl,
  ): Promise<BatchDispatchReport> {
    const result: BatchDispatchReport = { reports: [], shared: 0, fellBack: false };
    const alone = async (index: number, prior?: PriorFailure): Promise<boolean> => {
      const report = await this.alone(messages[index], decoded[index], control, { prior });
      result.reports.push(report);
      return report.complete;
    };
    let next = 0;
    while (next < messages.length) {
      if (control.signal?.aborted) return result;
      let end = next;
      while (end < messages.length && !(decoded[end] instanceof Error)) end++;
      if (end - next < 2) {
        if (!(await alone(next))) return result;
        next++;
        continue;
      }
      const run = messages.slice(next, end);
      const runDecoded = decoded.slice(next, end) as DecodedChangeEvent[];
      const commit = await this.commit(run, runDecoded);
      if (!(commit instanceof SharedFailure)) {
        if (commit.applied) result.shared += run.length;
        const reports = await this.afterCommit(run, runDecoded, commit.planned, control);
        result.reports.push(...reports);
        if (!reports.every((report) => report.complete)) return result;
        next = end;
        continue;
      }
      if (commit.index !== undefined) {
        // NOTE: the messages before the blamed one are batched again; the blamed one retries alone.
        const blamed = next + commit.index;
        const before = await this.dispatch(
          messages.slice(next, blamed),
          decoded.slice(next, blamed),
          control,
        );
        result.reports.push(...before.reports);
        result.shared += before.shared;
        result.fellBack ||= before.fellBack;
        if (before.reports.length < blamed - next || !before.reports.every((r) => r.complete)) return result;
        if (!(await alone(blamed, commit.prior))) return result;
        next = blamed + 1;
        continue;
      }
      result.fellBack = true;
      for (; next < end; next++) if (!(await alone(next))) return result;
    }
    return result;
  }

  /** Plans and runs the shared transaction of `messages`; on failure nothing of it is applied. */
  private async commit(
    messages: readonly ChangeMessage[],
    decoded: readonly DecodedChangeEvent[],
  ): Promise<SharedCommit | SharedFailure> {
    const plan = planSharedTransaction(messages, decoded, (topic) => this.registry.forTopic(topic));
    if (plan instanceof SharedFailure) return plan;
    if (plan.effects.length === 0) return { planned: plan.planned, applied: false };
    let outcomes: readonly ('applied' | 'duplicate')[] | void;
    try {
      outcomes = await this.executor.runShared(plan.effects);
    } catch (error) {
      return this.blame(error, plan, messages, decoded);
    }
    // NOTE: offsets mode knows which effects are applied already (a redelivery) and skips them without failing.
    if (outcomes) markDuplicates(outcomes, plan);
    return { planned: plan.planned, applied: !outcomes?.every((outcome) => outcome === 'duplicate') };
  }

  /** The handler and message a failed shared transaction is blamed on, when a handler's own call threw. */
  private blame(
    error: unknown,
    plan: SharedPlan,
    messages: readonly ChangeMessage[],
    decoded: readonly DecodedChangeEvent[],
  ): SharedFailure {
    if (!(error instanceof SharedEffectError) || isMongoOutage(error.cause)) return new SharedFailure();
    const { index, handler, events } = plan.owners[error.index];
    if (index === undefined) {
      this.logger.warn(
        `${handler.label} failed on a batch of ${events} event(s) at ${where(messages[0])}..${messages[messages.length - 1].offset}, which are applied again one by one: ${describeError(error.cause)}`,
      );
      return new SharedFailure();
    }
    this.logger.warn(
      `${handler.label} failed attempt 1/${handler.retry.attempts} on event ${decoded[index].eventId} at ${where(messages[index])} in a transaction shared with ${messages.length - 1} other message(s), which are applied again: ${describeError(error.cause)}`,
    );
    return new SharedFailure(index, { handlerId: handler.id, error: error.cause });
  }

  /** After the commit, each message's other handlers, message by message; stops after an incomplete one. */
  private async afterCommit(
    messages: readonly ChangeMessage[],
    decoded: readonly DecodedChangeEvent[],
    planned: SharedPlan['planned'],
    control: DispatchControl,
  ): Promise<DispatchReport[]> {
    const reports: DispatchReport[] = [];
    for (let index = 0; index < messages.length; index++) {
      const report = await this.alone(messages[index], decoded[index], control, { planned: planned[index] });
      reports.push(report);
      if (!report.complete) break;
    }
    return reports;
  }
}
