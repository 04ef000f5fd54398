/**
 * commitTransaction and abortTransaction. The dispatcher has already found the session's
 * transaction (NoSuchTransaction otherwise); committing applies its writes atomically and records
 * its change events, in order, as one batch.
 */
import type { Document } from 'bson';
import { ErrorCodes, serverError } from '../errors';
import type { CommandContext, CommandTable } from './context';

function transactionOf(context: CommandContext) {
  if (!context.txn) {
    throw serverError(
      ErrorCodes.InvalidOptions,
      `${Object.keys(context.command)[0]} must be run with lsid, txnNumber and autocommit: false`,
    );
  }
  return context.txn;
}

function commitTransaction(context: CommandContext): Document {
  const txn = transactionOf(context);
  // A retried commit of a committed transaction succeeds again.
  if (txn.state === 'committed') return { ok: 1 };
  txn.commit(context.services.store);
  if (txn.events.length) context.services.engine.record(txn.events);
  return { ok: 1 };
}

function abortTransaction(context: CommandContext): Document {
  const txn = transactionOf(context);
  if (txn.state === 'committed') {
    throw serverError(
      ErrorCodes.TransactionCommitted,
      'Transaction has been committed: it cannot be aborted',
    );
  }
  txn.abort();
  return { ok: 1 };
}

/** Commands that end a transaction (they may address a committed one). */
export const TRANSACTION_END_COMMANDS: ReadonlySet<string> = new Set([
  'commitTransaction',
  'abortTransaction',
]);

export const transactionCommands: CommandTable = {
  commitTransaction: { run: commitTransaction, write: true, adminOnly: true },
  abortTransaction: { run: abortTransaction, write: true, adminOnly: true },
};
