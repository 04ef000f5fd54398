import { Inject, Injectable } from '@nestjs/common';
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

/**
 * The exactly-once effect: each invocation runs in a MongoDB transaction that first inserts the
 * processed-event marker (unique on handler id + event id) and then runs the handler's writes.
 * A redelivered event finds its marker, the transaction aborts, nothing runs twice. Two workers
 * racing on one event conflict on the marker's index entry; the driver retries the loser
 * (TransientTransactionError), which then finds the marker.
 *
 * A shared transaction (runShared) inserts the markers of several events in one insertMany, runs
 * their effects and commits once; a write conflict runs it again (up to 6 times, backing off), any other failure
 * aborts all of it, and the caller falls back to `run` per event. Internal.
 */
@Injectable()
export class MongoEffectExecutor extends EffectExecutor {
  constructor(
    @Inject(CHANGE_STREAM_MONGO_CLIENT) private readonly client: MongoClient,
    private readonly store: ProcessedEventStore,
  ) {
    super();
  }

  async run(
    marker: ProcessedMarker,
    transactional: boolean,
    effect: (session: ClientSession) => Promise<unknown>,
  ): Promise<EffectOutcome> {
    const session = this.client.startSession();
    try {
      return transactional
        ? await this.inTransaction(session, marker, effect)
        : await this.afterEffect(session, marker, effect);
    } finally {
      await session.endSession();
    }
  }

  async runShared(effects: readonly SharedEffect[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.sharedOnce(effects);
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

  recordDeadLettered(marker: ProcessedMarker): Promise<void> {
    return this.store.recordDeadLettered(marker);
  }

  private async sharedOnce(effects: readonly SharedEffect[]): Promise<void> {
    const session = this.client.startSession();
    try {
      session.startTransaction(TRANSACTION_OPTIONS);
      try {
        // NOTE: one duplicate marker (a redelivery) fails the insert and aborts all; `run` sorts it out per event.
        await this.store.insertMany(
          effects.flatMap((e) => e.markers),
          session,
        );
        for (let index = 0; index < effects.length; index++) {
          try {
            await effects[index].effect(session);
          } catch (error) {
            throw new SharedEffectError(index, error);
          }
        }
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
