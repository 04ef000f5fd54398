/**
 * `worker.dedupe: 'offsets'`: what the transactional handlers of one consumer group have applied on
 * one partition, and how each MongoDB transaction moves it. Pure logic; AppliedOffsetStore keeps it.
 *
 * A worker handles a partition's messages in order and starts a message only when every earlier one
 * is done (applied, skipped, filtered or dead-lettered), so one number says almost everything: every
 * message at or below `offset` is done. `partial` covers the one case a number cannot: after a shared
 * transaction failed, a message's transactional handlers run one transaction each, and a crash between
 * two of them must not apply the first one again. Internal.
 */

/** The applied offset of one (group, topic, partition). */
export interface AppliedOffset {
  /** Every transactional handler is done with each message at or below this offset; -1: none yet. */
  offset: number;
  /** Handlers done with the message at `partial.offset` (> `offset`), run one transaction each. */
  partial: { offset: number; handlers: string[] } | null;
  /** Bumped by every write: the compare-and-set that keeps a stale worker from applying anything twice. */
  version: number;
}

/** A partition nothing was applied on yet (no document). */
export const NOTHING_APPLIED: Readonly<AppliedOffset> = Object.freeze({
  offset: -1,
  partial: null,
  version: 0,
});

/** A Kafka offset as a number (Kafka's are int64; 2^53 messages in one partition is out of reach). */
export function offsetNumber(offset: string): number {
  const value = Number(offset);
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`Kafka offset ${offset} out of range`);
  return value;
}

/** True when `handlerId`'s effect for the message at `offset` is already applied (or dead-lettered). */
export function isApplied(state: AppliedOffset, offset: number, handlerId: string): boolean {
  if (offset <= state.offset) return true;
  return state.partial?.offset === offset && state.partial.handlers.includes(handlerId);
}

/** The state after a shared transaction applied every transactional effect up to `last` (inclusive). */
export function afterBatch(state: AppliedOffset, last: number): AppliedOffset {
  return { offset: Math.max(state.offset, last), partial: null, version: state.version + 1 };
}

/**
 * The state after one handler's transaction (or dead letter) for the message at `offset`. The messages
 * before it are done (the worker got to this one), so `offset - 1` becomes the applied offset.
 */
export function afterHandler(state: AppliedOffset, offset: number, handlerId: string): AppliedOffset {
  const before = state.partial?.offset === offset ? state.partial.handlers : [];
  return {
    offset: Math.max(state.offset, offset - 1),
    partial: { offset, handlers: [...before.filter((id) => id !== handlerId), handlerId] },
    version: state.version + 1,
  };
}
