import { Injectable } from '@nestjs/common';
import { sleep } from '../utils/timers';

/** Waits between retries. Internal; the testing kit swaps in one that does not wait. */
export abstract class RetryTimer {
  /** Resolves after `ms`, or at once when `signal` aborts. */
  abstract wait(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Waits on a real timer. */
@Injectable()
export class SleepRetryTimer extends RetryTimer {
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    return sleep(ms, signal);
  }
}
