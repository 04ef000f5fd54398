import type { ClientSession } from 'mongodb';
import type { ProcessedMarker } from './processed-event.store';

/** `applied`: the effect ran and its marker is stored. `duplicate`: a marker was found, nothing ran. */
export type EffectOutcome = 'applied' | 'duplicate';

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
}
