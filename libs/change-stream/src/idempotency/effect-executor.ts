import type { ClientSession } from 'mongodb';
import type { ProcessedMarker } from './processed-event.store';

/** `applied`: the effect ran and its marker is stored. `duplicate`: a marker was found, nothing ran. */
export type EffectOutcome = 'applied' | 'duplicate';

/**
 * One handler's effect, as part of a shared transaction, with the markers of the events it covers:
 * one for a @ChangeHandler call, one per event for a @ChangeBatchHandler call.
 */
export interface SharedEffect {
  markers: readonly ProcessedMarker[];
  effect: (session: ClientSession) => Promise<unknown>;
}

/**
 * Thrown by {@link EffectExecutor.runShared} when one of the effects threw: which one, and its
 * error. Nothing of the shared transaction was applied.
 */
export class SharedEffectError extends Error {
  constructor(
    readonly index: number,
    override readonly cause: unknown,
  ) {
    super(`effect ${index} of a shared transaction failed`);
    this.name = 'SharedEffectError';
  }
}

/** Runs one handler's effect for one event at most once per marker. Internal (the testing kit swaps it). */
export abstract class EffectExecutor {
  /**
   * `transactional`: the marker and the effect's writes through `session` commit together or not
   * at all. Otherwise the marker is checked before and written after the effect (at-least-once).
   */
  abstract run(
    marker: ProcessedMarker,
    transactional: boolean,
    effect: (session: ClientSession) => Promise<unknown>,
  ): Promise<EffectOutcome>;

  /**
   * Runs several effects, in order, in one transaction together with all their markers: all are
   * applied, or none is. Throws when any marker already exists, when an effect throws
   * ({@link SharedEffectError}), or when the transaction fails; the caller then runs them one by
   * one with {@link run}, which sorts out duplicates, retries and dead letters. May return one
   * outcome per effect when some were skipped as duplicates without failing (`worker.dedupe:
   * 'offsets'` knows them before the transaction); nothing returned means all were applied.
   */
  abstract runShared(effects: readonly SharedEffect[]): Promise<readonly EffectOutcome[] | void>;

  /**
   * Records that the handler gave up on the event (its message was dead-lettered): {@link run} and
   * {@link runShared} then treat a later copy as a duplicate, so an old event is never applied after
   * newer ones of its document. `transactional`: the handler runs in MongoDB transactions (in
   * `worker.dedupe: 'offsets'` its partition's applied offset moves past the message too). Idempotent.
   */
  abstract recordDeadLettered(marker: ProcessedMarker, transactional?: boolean): Promise<void>;
}
