import {
  MongoError,
  MongoNetworkError,
  MongoServerSelectionError,
  type ClientSession,
  type MongoClient,
  type TransactionOptions,
} from 'mongodb';
import { backoffDelay, sleep } from '../utils/timers';
import { ConflictGate } from './conflict-gate';
import { SharedEffectError, type SharedEffect } from './effect-executor';

/** Majority reads and writes: a committed effect survives a primary failover. */
export const TRANSACTION_OPTIONS: TransactionOptions = {
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
const SHARED_RETRY_BACKOFF = { initialDelayMs: 10, maxDelayMs: 200, factor: 2 };

/**
 * Where a shared transaction writes its guard. `before` the effects: the markers, so a duplicate fails
 * before any handler runs. `after` them: the partition's applied offset, the one document every
 * transaction of the partition writes; a transaction left open by a killed worker holds its documents
 * until MongoDB aborts it (transactionLifetimeLimitSeconds, 60 s), so written last it holds that one
 * only between its last write and the commit, not while the handlers run.
 */
export type GuardPosition = 'before' | 'after';

/**
 * Runs `effects` in one transaction with `guard` (the markers' insert or the applied offset's
 * compare-and-set) `before` or `after` them, again on a write conflict (up to 6 times, backing off,
 * alone among the client's shared transactions: see ConflictGate).
 * Throws SharedEffectError when an effect threw; nothing is applied then.
 */
export async function runSharedTransaction(
  client: MongoClient,
  effects: readonly SharedEffect[],
  guard: (session: ClientSession) => Promise<void>,
  position: GuardPosition = 'before',
): Promise<void> {
  const gate = gateOf(client);
  for (let attempt = 1; ; attempt++) {
    try {
      const run = () => sharedOnce(client, effects, guard, position);
      // NOTE: a retry after a write conflict runs alone among this client's shared transactions.
      await (attempt === 1 ? gate.beside(run) : gate.byItself(run));
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

/** The shared transactions of one client (one worker's connection) pass one gate. */
const gates = new WeakMap<MongoClient, ConflictGate>();

function gateOf(client: MongoClient): ConflictGate {
  let gate = gates.get(client);
  if (!gate) gates.set(client, (gate = new ConflictGate()));
  return gate;
}

/** One shared transaction: the effects with `guard` before or after them, then the commit. */
async function sharedOnce(
  client: MongoClient,
  effects: readonly SharedEffect[],
  guard: (session: ClientSession) => Promise<void>,
  position: GuardPosition,
): Promise<void> {
  const session = client.startSession();
  try {
    session.startTransaction(TRANSACTION_OPTIONS);
    try {
      if (position === 'before') await guard(session);
      for (let index = 0; index < effects.length; index++) {
        try {
          await effects[index].effect(session);
        } catch (error) {
          throw new SharedEffectError(index, error);
        }
      }
      if (position === 'after') await guard(session);
    } catch (error) {
      if (session.inTransaction()) await session.abortTransaction().catch(() => undefined);
      // NOTE: the driver ignores a failed abort (as the spec says); a lost connection may have lost it.
      if (lostConnection(error)) await endOnServer(client, session);
      throw error;
    }
    await commit(session).catch(async (error: unknown) => {
      await endOnServer(client, session);
      throw error;
    });
  } finally {
    await session.endSession();
  }
}

/** True when `error` (or the handler error it wraps) says the connection went away mid-transaction. */
export function lostConnection(error: unknown): boolean {
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
export async function endOnServer(client: MongoClient, session: ClientSession): Promise<void> {
  if (!session.id) return;
  await client
    .db('admin')
    .command({ killSessions: [session.id] })
    .catch(() => undefined);
}

function isTransient(error: unknown): boolean {
  return error instanceof MongoError && error.hasErrorLabel('TransientTransactionError');
}

/**
 * Commits, retrying a commit whose outcome is unknown. If it still throws, the events go through
 * `run` one by one, which finds their markers when the commit did land.
 */
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
