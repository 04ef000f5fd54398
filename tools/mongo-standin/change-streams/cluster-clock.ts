/**
 * Cluster times as mongod hands them out: BSON Timestamps with t = wall-clock seconds and
 * i = an increment within that second, strictly increasing.
 */
import { Timestamp } from 'bson';

/** Orders two timestamps by (t, i). */
export function compareTimestamps(a: Timestamp, b: Timestamp): number {
  return a.t - b.t || a.i - b.i;
}

/** The next tick after `ts` in timestamp order (same second, increment + 1). */
export function nextTick(ts: Timestamp): Timestamp {
  return ts.i === 0xffffffff ? new Timestamp({ t: ts.t + 1, i: 0 }) : new Timestamp({ t: ts.t, i: ts.i + 1 });
}

/** Hands out strictly increasing cluster times. */
export class ClusterClock {
  private last: Timestamp;

  constructor(private readonly nowMs: () => number = Date.now) {
    this.last = new Timestamp({ t: this.seconds(), i: 0 });
  }

  /** The latest time handed out (the engine's creation time before any tick). */
  latest(): Timestamp {
    return this.last;
  }

  /** A new cluster time, later than every earlier one. */
  tick(): Timestamp {
    const seconds = this.seconds();
    this.last = seconds > this.last.t ? new Timestamp({ t: seconds, i: 1 }) : nextTick(this.last);
    return this.last;
  }

  private seconds(): number {
    return Math.floor(this.nowMs() / 1000);
  }
}
