import type { LoggerService } from '@nestjs/common';
import { MESSAGES } from '../change-stream.messages';
import type { BackoffPolicy } from '../interfaces/backoff.interface';
import { backoffDelay, sleep } from '../utils/timers';
import { describeError } from './dead-letter';

/** Why, since when and at which attempt the worker's consumer is down while it is being brought back. */
export interface WorkerRestart {
  /** What kafkajs reported when it gave up, or why the last attempt failed. */
  reason: string;
  /** The attempt under way or to come: 1 for the first after kafkajs gave up. */
  attempt: number;
  /** When kafkajs gave up. */
  since: Date;
}

/**
 * Brings the worker's consumer back after kafkajs gave up on it for good (a CRASH event with
 * `restart: false`): waits a backoff (`worker.restartBackoff`), then `open` closes the dead consumer
 * and runs a new one in the same group, which resumes from the committed offsets. An attempt that
 * fails (connect, subscribe, or a crash while it joins) waits longer. A shutdown (`signal`) cuts the
 * wait short and ends the loop. Internal.
 */
export class WorkerSupervisor {
  private current: WorkerRestart | null = null;
  private loop: Promise<void> | null = null;
  /** True while `open` runs: a crash then is that attempt failing. */
  private opening = false;
  private crashWhileOpening: string | null = null;
  private restarted = 0;

  constructor(
    /** Closes the consumer kafkajs gave up on and runs a new one; rejects when a step fails. */
    private readonly open: () => Promise<void>,
    private readonly backoff: BackoffPolicy,
    private readonly signal: AbortSignal,
    private readonly logger: LoggerService,
  ) {}

  /** The restart under way, or null (also once the shutdown began). */
  get restart(): WorkerRestart | null {
    return this.signal.aborted ? null : this.current;
  }

  /** Consumers brought back since start. */
  get restarts(): number {
    return this.restarted;
  }

  /** kafkajs gave up on the consumer in use: bring it back, unless a restart is already under way. */
  gaveUp(error: unknown): void {
    const reason = describeError(error);
    if (this.opening) {
      this.crashWhileOpening ??= reason;
      return;
    }
    if (this.loop || this.signal.aborted) return;
    this.current = { reason, attempt: 1, since: new Date() };
    this.loop = this.restartWithBackoff().finally(() => (this.loop = null));
  }

  /** Resolves once no restart is under way (after a shutdown, at its next step). */
  settled(): Promise<void> {
    return this.loop ?? Promise.resolve();
  }

  private async restartWithBackoff(): Promise<void> {
    for (let failed = 0; ; failed++) {
      const delayMs = backoffDelay(failed, this.backoff);
      this.logger.warn(MESSAGES.workerRestartIn(this.current!, delayMs));
      await sleep(delayMs, this.signal);
      if (this.signal.aborted) return;
      const failure = await this.attempt();
      if (this.signal.aborted) return;
      if (failure === null) break;
      this.current = { ...this.current!, reason: failure, attempt: failed + 2 };
    }
    this.restarted++;
    this.logger.log(MESSAGES.workerRestarted(this.current!));
    this.current = null;
  }

  /** One attempt: null when the new consumer runs, else why it failed. */
  private async attempt(): Promise<string | null> {
    this.opening = true;
    this.crashWhileOpening = null;
    try {
      await this.open();
      return this.crashWhileOpening;
    } catch (error) {
      return describeError(error);
    } finally {
      this.opening = false;
    }
  }
}
