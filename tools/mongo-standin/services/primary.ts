/**
 * The replica-set role of the one node: primary of `rs0`, or (after `stepDown(ms)`) a secondary
 * for that long, as a node that lost and then won an election.
 */
import { ObjectId, type Document } from 'bson';

export const REPLICA_SET_NAME = 'rs0';

export class PrimaryState {
  private steppedDownUntil = 0;
  private term = 1;
  private readonly interruptListeners = new Set<() => void>();

  constructor(private readonly address: () => string) {}

  get isWritablePrimary(): boolean {
    return Date.now() >= this.steppedDownUntil;
  }

  /** Becomes a secondary for `ms` milliseconds, interrupting operations in progress (as mongod does). */
  stepDown(ms: number): void {
    if (!(ms >= 0)) throw new Error(`stepDown needs a duration in milliseconds, got ${ms}`);
    this.steppedDownUntil = Date.now() + ms;
    this.term++;
    for (const listener of [...this.interruptListeners]) listener();
  }

  /** Calls `listener` on the next step-down; returns the unsubscribe function. */
  onInterrupt(listener: () => void): () => void {
    this.interruptListeners.add(listener);
    return () => this.interruptListeners.delete(listener);
  }

  /** The replica-set fields of hello. */
  helloFields(): Document {
    const me = this.address();
    const common = { setName: REPLICA_SET_NAME, setVersion: 1, hosts: [me], me };
    if (!this.isWritablePrimary) return { isWritablePrimary: false, secondary: true, ...common };
    return {
      isWritablePrimary: true,
      secondary: false,
      ...common,
      primary: me,
      electionId: new ObjectId(`7fffffff${this.term.toString(16).padStart(16, '0')}`),
    };
  }
}
