import { Inject, Injectable, Optional } from '@nestjs/common';
import {
  MongoError,
  MongoNetworkError,
  MongoServerSelectionError,
  type ClientSession,
  type MongoClient,
  type TransactionOptions,
} from 'mongodb';
import { CHANGE_STREAM_MONGO_CLIENT } from '../change-stream.constants';
import { EffectExecutor, SharedEffectError, type EffectOutcome, type SharedEffect } from './effect-executor';
import { backoffDelay, sleep } from '../utils/timers';
import { ProcessedEventStore, type ProcessedMarker } from './processed-event.store';
import { afterBatch, afterHandler, isApplied, offsetNumber, type AppliedOffset } from './applied-offset';
import { AppliedOffsetStore, StaleAppliedOffsetError } from './applied-offset.store';

/** Thrown inside the transaction to abort it when the marker already exists. */
class AlreadyProcessed extends Error {}

/** Majority reads and writes: a committed effect survives a primary failover. */
const TRANSACTION_OPTIONS: TransactionOptions = {
  readConcern: { level: 'majority' },
  writeConcern: { w: 'majority' },
  readPreference: 'primary',
};

/** Commit attempts of a shared transaction whose outcome is unknown (the commit is idempotent). */
const SHARED_COMMIT_ATTEMPTS = 3;
/**
 * Runs of a shared transaction that hit write conflicts before its messages go one by one. A conflict
 * is raised at the write while the other transaction still holds the document (as mongod does), so
 * the retries back off long enough to outlast one other shared transaction (up to ~200 ms of handler
 * time): about 150-300 ms in all.
 */
const SHARED_TRANSIENT_ATTEMPTS = 6;
const SHARED_RETRY_BACKOFF = { initialMs: 10, maxMs: 200 };
/** Re-reads of an applied offset that moved under a transaction before it gives up (each one means progress by another worker). */
const STALE_OFFSET_ATTEMPTS = 10;

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
 * With `worker.dedupe: 'offsets'` (an enabled AppliedOffsetStore) a transactional effect writes no
 * marker: its transaction compare-and-sets the partition's applied offset instead, and an event at or
 * below it is a duplicate before any transaction starts. Internal.
 */
@Injectable()
export class MongoEffectExecutor extends EffectExecutor {
  constructor(
    @Inject(CHANGE_STREAM_MONGO_CLIENT) private readonly client: MongoClient,
    private readonly store: ProcessedEventStore,
    @Optional() offsets?: AppliedOffsetStore,
  ) {
    super();
    this.offsets = offsets?.enabled ? offsets : undefined;
  }

  private readonly offsets: AppliedOffsetStore | undefined;

  async run(
    marker: ProcessedMarker,
    transactional: boolean,
    effect: (session: ClientSession) => Promise<unknown>,
  ): Promise<EffectOutcome> {
    if (transactional && this.offsets) return this.runAtOffset(this.offsets, marker, effect);
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
    if (this.offsets) return this.runSharedAtOffset(this.offsets, effects);
    // NOTE: one duplicate marker (a redelivery) fails the insert and aborts all; `run` sorts it out per event.
    const markers = effects.flatMap((e) => e.markers);
    return this.runSharedWith(effects, (session) => this.store.insertMany(markers, session));
  }

  async recordDeadLettered(marker: ProcessedMarker, transactional = false): Promise<void> {
    // NOTE: the marker is written in offsets mode too: the dead-letter re-drive finds its letters' handlers by it.
    await this.store.recordDeadLettered(marker);
    if (!transactional || !this.offsets) return;
    const offsets = this.offsets;
    const { topic, partition, handlerId } = marker;
    const offset = offsetNumber(marker.offset);
    await this.whileStale(offsets, marker, async (state) => {
      if (isApplied(state, offset, handlerId)) return;
      const next = afterHandler(state, offset, handlerId);
      await offsets.advance(topic, partition, state, next);
      offsets.remember(topic, partition, next);
    });
  }

  /** Offsets mode, one handler's transaction: the applied offset's compare-and-set, then the effect. */
  private runAtOffset(
    offsets: AppliedOffsetStore,
    marker: ProcessedMarker,
    effect: (session: ClientSession) => Promise<unknown>,
  ): Promise<EffectOutcome> {
    const { topic, partition, handlerId } = marker;
    const offset = offsetNumber(marker.offset);
    return this.whileStale(offsets, marker, async (state) => {
      if (isApplied(state, offset, handlerId)) return 'duplicate';
      const next = afterHandler(state, offset, handlerId);
      const session = this.client.startSession();
      try {
        await session.withTransaction(async () => {
          await effect(session);
          await offsets.advance(topic, partition, state, next, session);
        }, TRANSACTION_OPTIONS);
      } catch (error) {
        if (lostConnection(error)) await endOnServer(this.client, session);
        throw error;
      } finally {
        await session.endSession();
      }
      offsets.remember(topic, partition, next);
      return 'applied';
    });
  }

  /**
   * Offsets mode, a shared transaction: effects whose events are all at or below the applied offset
   * are skipped as duplicates; the others run with one compare-and-set of the offset to their last
   * message. An effect with events on both sides (a batch handler's) throws: they go one by one.
   */
  private async runSharedAtOffset(
    offsets: AppliedOffsetStore,
    effects: readonly SharedEffect[],
  ): Promise<readonly EffectOutcome[]> {
    const markers = effects.flatMap((e) => e.markers);
    const { topic, partition } = markers[0];
    if (markers.some((m) => m.topic !== topic || m.partition !== partition))
      throw new Error('a shared transaction must hold the messages of one partition');
    return this.whileStale(offsets, markers[0], async (state) => {
      const outcomes = effects.map((e) => outcomeAt(state, e.markers));
      const pending = effects.filter((_, index) => outcomes[index] === 'applied');
      if (pending.length === 0) return outcomes;
      const last = Math.max(...pending.flatMap((e) => e.markers.map((m) => offsetNumber(m.offset))));
      const next = afterBatch(state, last);
      try {
        await this.runSharedWith(
          pending,
          (session) => offsets.advance(topic, partition, state, next, session),
          true,
        );
      } catch (error) {
        if (!(error instanceof SharedEffectError)) throw error;
        throw new SharedEffectError(effects.indexOf(pending[error.index]), error.cause);
      }
      offsets.remember(topic, partition, next);
      return outcomes;
    });
  }

  /** Runs `work` on the partition's applied offset, again on a fresh read when it turns out stale. */
  private async whileStale<T>(
    offsets: AppliedOffsetStore,
    { topic, partition }: ProcessedMarker,
    work: (state: AppliedOffset) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work(await offsets.current(topic, partition));
      } catch (error) {
        // NOTE: a failed or unknown commit may or may not have moved the offset: read it again next time.
        offsets.forget(topic, partition);
        if (!(error instanceof StaleAppliedOffsetError) || attempt >= STALE_OFFSET_ATTEMPTS) throw error;
      }
    }
  }

  private async runSharedWith(
    effects: readonly SharedEffect[],
    guard: (session: ClientSession) => Promise<void>,
    guardLast = false,
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.sharedOnce(effects, guard, guardLast);
        return;
      } catch (error) {
        // NOTE: a write conflict with another transaction (TransientTransactionError, as withTransaction
        // retries it), at a handler's write or at the markers', is nobody's failure: run it all again.
        const cause = error instanceof SharedEffectError ? error.cause : error;
        if (!isTransient(cause)) throw error;
        if (attempt >= SHARED_TRANSIENT_ATTEMPTS) throw cause;
        await sleep(backoffDelay(attempt - 1, SHARED_RETRY_BACKOFF));
      }
    }
  }

  /** One shared transaction: `guard` (the markers' insert or the offset's compare-and-set), then the effects. */
  private async sharedOnce(
    effects: readonly SharedEffect[],
    guard: (session: ClientSession) => Promise<void>,
    guardLast = false,
  ): Promise<void> {
    const session = this.client.startSession();
    try {
      session.startTransaction(TRANSACTION_OPTIONS);
      try {
        if (!guardLast) await guard(session);
        for (let index = 0; index < effects.length; index++) {
          try {
            await effects[index].effect(session);
          } catch (error) {
            throw new SharedEffectError(index, error);
          }
        }
        if (guardLast) await guard(session);
      } catch (error) {
        if (session.inTransaction()) await session.abortTransaction().catch(() => undefined);
        // NOTE: the driver ignores a failed abort (as the spec says); a lost connection may have lost it.
        if (lostConnection(error)) await endOnServer(this.client, session);
        throw error;
      }
      await commit(session).catch(async (error: unknown) => {
        await endOnServer(this.client, session);
        throw error;
      });
    } finally {
      await session.endSession();
    }
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

/** 'duplicate' when every event of the effect is applied, 'applied' (to do) when none is; throws when some are. */
function outcomeAt(state: AppliedOffset, markers: readonly ProcessedMarker[]): EffectOutcome {
  const done = markers.filter((m) => isApplied(state, offsetNumber(m.offset), m.handlerId)).length;
  if (done === 0) return 'applied';
  if (done === markers.length) return 'duplicate';
  throw new Error(`${done} of the ${markers.length} events of a batch handler's effect are applied already`);
}

/** True when `error` (or the handler error it wraps) says the connection went away mid-transaction. */
function lostConnection(error: unknown): boolean {
  const cause = error instanceof SharedEffectError ? error.cause : error;
  return cause instanceof MongoNetworkError || cause instanceof MongoServerSelectionError;
}

/**
 * Ends the session's transaction on the server when its abort or commit may not have reached it.
 * mongod ties a transaction to its logical session, not to a connection: one whose client lost the
 * connection keeps its writes locked until killSessions / endSessions, or until
 * transactionLifetimeLimitSeconds (60 s by default), and every other transaction writing those
 * documents meanwhile gets WriteConflict. Best effort: when this fails too, the limit still ends it.
 */
async function endOnServer(client: MongoClient, session: ClientSession): Promise<void> {
  if (!session.id) return;
  await client
    .db('admin')
    .command({ killSessions: [session.id] })
    .catch(() => undefined);
}

/**
 * Commits, retrying a commit whose outcome is unknown. If it still throws, the events go through
 * `run` one by one, which finds their markers when the commit did land.
 */
function isTransient(error: unknown): boolean {
  return error instanceof MongoError && error.hasErrorLabel('TransientTransactionError');
}

async function commit(session: ClientSession): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await session.commitTransaction();
      return;
    } catch (error) {
      const unknown = error instanceof MongoError && error.hasErrorLabel('UnknownTransactionCommitResult');
      if (!unknown || attempt >= SHARED_COMMIT_ATTEMPTS) throw error;
    }
  }
}
