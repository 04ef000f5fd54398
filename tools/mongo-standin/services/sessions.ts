/**
 * Logical sessions: the transaction number sequence of each `lsid`, its multi-document
 * transaction, and the reply of its latest retryable write (a retried write answers the recorded
 * reply instead of running again).
 */
import { Long, type Document } from 'bson';
import { ErrorCodes, serverError } from '../errors/server-error';
import { ErrorLabel } from '../errors/labels';
import type { LockOwner } from '../storage/locks';
import { Transaction } from '../storage/transaction';
import { keyOf } from '../storage/values';

export class ServerSession {
  /** The session's latest multi-document transaction, in whatever state. */
  txn: Transaction | undefined;
  private highestTxnNumber = -1;
  private lastWrite: { txnNumber: number; reply: Document } | undefined;

  constructor(readonly lsid: Document) {}

  /**
   * The transaction a command with `autocommit: false` runs in: a new one for `startTransaction`,
   * else the in-progress one with that number. Throws NoSuchTransaction (251) / TransactionTooOld (225).
   */
  transactionFor(txnNumber: number, startTransaction: boolean): Transaction {
    if (startTransaction) {
      this.advance(txnNumber, 'start transaction');
      if (this.txn?.txnNumber === txnNumber) {
        throw noSuchTransaction(`Transaction ${txnNumber} has already been started on this session`);
      }
      this.txn?.abort();
      return (this.txn = new Transaction(txnNumber));
    }
    const txn = this.txn;
    if (!txn || txn.txnNumber !== txnNumber) {
      throw noSuchTransaction(
        `Given transaction number ${txnNumber} does not match any in-progress transactions. The active transaction number is ${this.highestTxnNumber}`,
      );
    }
    if (txn.state === 'aborted') {
      throw noSuchTransaction(`Transaction with { txnNumber: ${txnNumber} } has been aborted.`);
    }
    return txn;
  }

  /**
   * The reply of the retryable write with this number when it already ran (a retry). Like mongod,
   * only the latest number is remembered; an older one is TransactionTooOld (225).
   */
  retriedWriteReply(txnNumber: number): Document | undefined {
    if (this.lastWrite?.txnNumber === txnNumber) return this.lastWrite.reply;
    this.advance(txnNumber, 'retryable write');
    return undefined;
  }

  recordWriteReply(txnNumber: number, reply: Document): void {
    this.lastWrite = { txnNumber, reply };
  }

  end(): void {
    this.txn?.abort();
  }

  private advance(txnNumber: number, what: string): void {
    if (txnNumber < this.highestTxnNumber) {
      throw serverError(
        ErrorCodes.TransactionTooOld,
        `Cannot ${what} ${txnNumber} on session because a newer transaction ${this.highestTxnNumber} has already started`,
      );
    }
    this.highestTxnNumber = txnNumber;
  }
}

const maxTimeExpired = () => serverError(ErrorCodes.MaxTimeMSExpired, 'operation exceeded time limit');

export const noSuchTransaction = (message: string) =>
  serverError(ErrorCodes.NoSuchTransaction, message, [ErrorLabel.TransientTransactionError]);

/** mongod's default `transactionLifetimeLimitSeconds` (60), in ms. */
export const TRANSACTION_LIFETIME_LIMIT_MS = 60_000;

/** Sessions by lsid. */
export class SessionRegistry {
  /** Writes outside a transaction waiting for one to end now (what mongod's currentOp shows as waiting). */
  get blockedWrites(): number {
    return this.waiting;
  }
  private waiting = 0;
  private readonly sessions = new Map<string, ServerSession>();
  private nextSweep = 0;

  /**
   * `transactionLifetimeLimitMs`: a transaction still in progress after this long is aborted, as
   * mongod does (a client that went away would otherwise keep its snapshot, its document locks and
   * the versions the data keeps for it for good). setParameter changes it at runtime.
   */
  constructor(public transactionLifetimeLimitMs = TRANSACTION_LIFETIME_LIMIT_MS) {}

  /** The session for an lsid (`{ id: UUID, ... }`), created on first use. */
  get(lsid: Document): ServerSession {
    if (!lsid || typeof lsid !== 'object' || lsid.id === undefined) {
      throw serverError(ErrorCodes.InvalidOptions, 'lsid must be a document with an id field');
    }
    this.abortExpiredTransactions();
    const key = keyOf(lsid.id);
    let session = this.sessions.get(key);
    if (!session) this.sessions.set(key, (session = new ServerSession(lsid)));
    return session;
  }

  end(lsid: Document): void {
    const key = keyOf(lsid?.id);
    this.sessions.get(key)?.end();
    this.sessions.delete(key);
  }

  endAll(): void {
    for (const session of this.sessions.values()) session.end();
    this.sessions.clear();
  }

  /**
   * Resolves when a transaction ends; aborts it when it outlives the lifetime limit meanwhile.
   * Rejects with MaxTimeMSExpired (50) at `deadline` (a waiting command's maxTimeMS).
   */
  waitForEnd(txn: LockOwner, deadline?: number): Promise<void> {
    this.waiting++;
    const timers: NodeJS.Timeout[] = [];
    // NOTE: a timer may fire a little early, and the limit may change meanwhile: check, else wait again.
    const expireLater = () => {
      const expiresIn = txn.startedAt + this.transactionLifetimeLimitMs - Date.now() + 1;
      if (expiresIn > 0) timers.push(setTimeout(expireLater, expiresIn));
      else this.abortExpiredTransactions(true);
    };
    expireLater();
    const waiting = new Promise<void>((resolve, reject) => {
      void txn.ended.then(resolve);
      if (deadline !== undefined) {
        timers.push(setTimeout(() => reject(maxTimeExpired()), Math.max(0, deadline - Date.now())));
      }
    });
    return waiting.finally(() => {
      this.waiting--;
      timers.forEach(clearTimeout);
    });
  }

  /** Aborts the transactions in progress for longer than the limit (looks at most 10 times a limit unless forced). */
  private abortExpiredTransactions(force = false): void {
    const now = Date.now();
    if (now < this.nextSweep && !force) return;
    this.nextSweep = now + Math.max(1, Math.floor(this.transactionLifetimeLimitMs / 10));
    for (const session of this.sessions.values()) {
      const txn = session.txn;
      if (txn?.state === 'inProgress' && now - txn.startedAt > this.transactionLifetimeLimitMs) txn.abort();
    }
  }
}

/** The txnNumber of a command as a number (it arrives as an int64). */
export const txnNumberOf = (command: Document): number | undefined =>
  command.txnNumber === undefined
    ? undefined
    : command.txnNumber instanceof Long
      ? command.txnNumber.toNumber()
      : Number(command.txnNumber);
