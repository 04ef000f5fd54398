import { Inject, Injectable, Optional } from '@nestjs/common';
import type { ClientSession, MongoClient } from 'mongodb';
import { CHANGE_STREAM_MONGO_CLIENT } from '../change-stream.constants';
import { AppliedOffsetExecutor } from './applied-offset.executor';
import { AppliedOffsetStore } from './applied-offset.store';
import { EffectExecutor, type EffectOutcome, type SharedEffect } from './effect-executor';
import { endOnServer, lostConnection, runSharedTransaction, TRANSACTION_OPTIONS } from './mongo-transaction';
import { ProcessedEventStore, type ProcessedMarker } from './processed-event.store';

/** Thrown inside the transaction to abort it when the marker already exists. */
class AlreadyProcessed extends Error {}

/**
 * The exactly-once effect: each invocation runs in a MongoDB transaction that first inserts the
 * processed-event marker (unique on handler id + event id) and then runs the handler's writes.
 * A redelivered event finds its marker, the transaction aborts, nothing runs twice. Two workers
 * racing on one event conflict on the marker's index entry; the driver retries the loser
 * (TransientTransactionError), which then finds the marker.
 *
 * A shared transaction (runShared) inserts the markers of several events in one insertMany, runs
 * their effects and commits once; a write conflict runs it again (up to 6 times, backing off), any other failure
 * aborts all of it, and the caller falls back to `run` per event.
 *
 * With `worker.dedupe: 'offsets'` (an enabled AppliedOffsetStore) the transactional effects go
 * through the {@link AppliedOffsetExecutor} instead. Internal.
 */
@Injectable()
export class MongoEffectExecutor extends EffectExecutor {
  private readonly offsets: AppliedOffsetExecutor | undefined;

  constructor(
    @Inject(CHANGE_STREAM_MONGO_CLIENT) private readonly client: MongoClient,
    private readonly store: ProcessedEventStore,
    // NOTE: AppliedOffsetStore is imported as a value: Nest finds the optional store by its class in the metadata.
    @Optional() offsets?: AppliedOffsetStore,
  ) {
    super();
    this.offsets = offsets?.enabled ? new AppliedOffsetExecutor(client, offsets) : undefined;
  }

  async run(
    marker: ProcessedMarker,
    transactional: boolean,
    effect: (session: ClientSession) => Promise<unknown>,
  ): Promise<EffectOutcome> {
    if (transactional && this.offsets) return this.offsets.run(marker, effect);
    const session = this.client.startSession();
    try {
      return transactional
        ? await this.inTransaction(session, marker, effect)
        : await this.afterEffect(session, marker, effect);
    } finally {
      await session.endSession();
    }
  }

  async runShared(effects: readonly SharedEffect[]): Promise<readonly EffectOutcome[] | void> {
    if (this.offsets) return this.offsets.runShared(effects);
    // NOTE: one duplicate marker (a redelivery) fails the insert and aborts all; `run` sorts it out per event.
    const markers = effects.flatMap((e) => e.markers);
    return runSharedTransaction(this.client, effects, (session) => this.store.insertMany(markers, session));
  }

  async recordDeadLettered(marker: ProcessedMarker, transactional = false): Promise<void> {
    // NOTE: the marker is written in offsets mode too: the dead-letter re-drive finds its letters' handlers by it.
    await this.store.recordDeadLettered(marker);
    if (transactional && this.offsets) await this.offsets.recordDeadLettered(marker);
  }

  private async inTransaction(
    session: ClientSession,
    marker: ProcessedMarker,
    effect: (session: ClientSession) => Promise<unknown>,
  ): Promise<EffectOutcome> {
    try {
      await session.withTransaction(async () => {
        if (!(await this.store.insert(marker, session))) throw new AlreadyProcessed();
        await effect(session);
      }, TRANSACTION_OPTIONS);
      return 'applied';
    } catch (error) {
      if (error instanceof AlreadyProcessed) return 'duplicate';
      // NOTE: withTransaction's own abort may have been lost with the connection.
      if (lostConnection(error)) await endOnServer(this.client, session);
      throw error;
    }
  }

  /** At-least-once: a crash between the effect and the marker repeats the effect on redelivery. */
  private async afterEffect(
    session: ClientSession,
    marker: ProcessedMarker,
    effect: (session: ClientSession) => Promise<unknown>,
  ): Promise<EffectOutcome> {
    if (await this.store.exists(marker, session)) return 'duplicate';
    await effect(session);
    await this.store.insert(marker, session);
    return 'applied';
  }
}
