import { Injectable } from '@nestjs/common';
import { RetryTimer } from '../worker/retry-timer';

/** The testing kit's RetryTimer: does not wait, and records the delays a real worker would have waited. */
@Injectable()
export class RecordingRetryTimer extends RetryTimer {
  readonly delays: number[] = [];

  async wait(ms: number): Promise<void> {
    this.delays.push(ms);
  }
}
