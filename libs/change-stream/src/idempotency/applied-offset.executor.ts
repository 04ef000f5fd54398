import type { ClientSession, MongoClient } from 'mongodb';
import { afterBatch, afterHandler, isApplied, offsetNumber, type AppliedOffset } from './applied-offset';
import { StaleAppliedOffsetError, type AppliedOffsetStore } from './applied-offset.store';
import { SharedEffectError, type EffectOutcome, type SharedEffect } from './effect-executor';
import { endOnServer, lostConnection, runSharedTransaction, TRANSACTION_OPTIONS } from './mongo-transaction';
import type { ProcessedMarker } from './processed-event.store';

/** Re-reads of an applied offset that moved under a transaction before it gives up (each one means progress by another worker). */
const STALE_OFFSET_ATTEMPTS = 10;

/**
 * `worker.dedupe: 'offsets'`: a transactional effect writes no marker; its transaction
 * compare-and-sets the partition's applied offset instead, and an event at or below it is a
 * duplicate before any transaction starts. Used by MongoEffectExecutor. Internal.
 */
export class AppliedOffsetExecutor {
  constructor(
    private readonly client: MongoClient,
    private readonly offsets: AppliedOffsetStore,
  ) {}

  /** One handler's transaction: the applied offset's compare-and-set, then the effect. */
  run(marker: ProcessedMarker, effect: (session: ClientSession) => Promise<unknown>): Promise<EffectOutcome> {
    const { topic, partition, handlerId } = marker;
    const offset = offsetNumber(marker.offset);
    return this.whileStale(marker, async (state) => {
      if (isApplied(state, offset, handlerId)) return 'duplicate';
      const next = afterHandler(state, offset, handlerId);
      const session = this.client.startSession();
      try {
        // NOTE: the offset last, as in a shared transaction (see GuardPosition).
        await session.withTransaction(async () => {
          await effect(session);
          await this.offsets.advance(topic, partition, state, next, session);
        }, TRANSACTION_OPTIONS);
      } catch (error) {
        if (lostConnection(error)) await endOnServer(this.client, session);
        throw error;
      } finally {
        await session.endSession();
      }
      this.offsets.remember(topic, partition, next);
      return 'applied';
    });
  }

  /**
   * A shared transaction: effects whose events are all at or below the applied offset are skipped
   * as duplicates; the others run with one compare-and-set of the offset to their last message. An
   * effect with events on both sides (a batch handler's) throws: they go one by one.
   */
  async runShared(effects: readonly SharedEffect[]): Promise<readonly EffectOutcome[]> {
    const markers = effects.flatMap((e) => e.markers);
    const { topic, partition } = markers[0];
    if (markers.some((m) => m.topic !== topic || m.partition !== partition))
      throw new Error('a shared transaction must hold the messages of one partition');
    return this.whileStale(markers[0], async (state) => {
      const outcomes = effects.map((e) => outcomeAt(state, e.markers));
      const pending = effects.filter((_, index) => outcomes[index] === 'applied');
      if (pending.length === 0) return outcomes;
      const last = Math.max(...pending.flatMap((e) => e.markers.map((m) => offsetNumber(m.offset))));
      const next = afterBatch(state, last);
      try {
        await runSharedTransaction(
          this.client,
          pending,
          (session) => this.offsets.advance(topic, partition, state, next, session),
          'after',
        );
      } catch (error) {
        if (!(error instanceof SharedEffectError)) throw error;
        throw new SharedEffectError(effects.indexOf(pending[error.index]), error.cause);
      }
      this.offsets.remember(topic, partition, next);
      return outcomes;
    });
  }

  /** Moves the partition's applied offset past a message the handler dead-lettered. */
  async recordDeadLettered(marker: ProcessedMarker): Promise<void> {
    const { topic, partition, handlerId } = marker;
    const offset = offsetNumber(marker.offset);
    await this.whileStale(marker, async (state) => {
      if (isApplied(state, offset, handlerId)) return;
      const next = afterHandler(state, offset, handlerId);
      await this.offsets.advance(topic, partition, state, next);
      this.offsets.remember(topic, partition, next);
    });
  }

  /** Runs `work` on the partition's applied offset, again on a fresh read when it turns out stale. */
  private async whileStale<T>(
    { topic, partition }: ProcessedMarker,
    work: (state: AppliedOffset) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work(await this.offsets.current(topic, partition));
      } catch (error) {
        // NOTE: a failed or unknown commit may or may not have moved the offset: read it again next time.
        this.offsets.forget(topic, partition);
        if (!(error instanceof StaleAppliedOffsetError) || attempt >= STALE_OFFSET_ATTEMPTS) throw error;
      }
    }
  }
}

/** 'duplicate' when every event of the effect is applied, 'applied' (to do) when none is; throws when some are. */
function outcomeAt(state: AppliedOffset, markers: readonly ProcessedMarker[]): EffectOutcome {
  const done = markers.filter((m) => isApplied(state, offsetNumber(m.offset), m.handlerId)).length;
  if (done === 0) return 'applied';
  if (done === markers.length) return 'duplicate';
  throw new Error(`${done} of the ${markers.length} events of a batch handler's effect are applied already`);
}
