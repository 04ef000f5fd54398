/**
 * commitTransaction and abortTransaction. The dispatcher has already found the session's
 * transaction (NoSuchTransaction otherwise); committing applies its writes atomically and records
 * its change events, in order, as one batch.
 */
import type { Document } from 'bson';
import { ErrorCodes, serverError } from '../errors/server-error';
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

/** The commands mongod runs inside a multi-document transaction (its transaction allowlist). */
const ALLOWED_IN_TRANSACTION: ReadonlySet<string> = new Set([
  'abortTransaction',
  'aggregate',
  'commitTransaction',
  'create',
  'createIndexes',
  'delete',
  'distinct',
  'find',
  'findAndModify',
  'findandmodify',
  'getMore',
  'insert',
  'killCursors',
  'update',
]);

/**
 * Refuses, before the transaction is looked up (it stays open, as in mongod), a command mongod
 * does not run in a transaction, one against the config, local or admin database, or a statement
 * that carries its own writeConcern (only commit and abort take one).
 */
export function checkAllowedInTransaction(name: string, db: string, command: Document): void {
  if (command.writeConcern !== undefined && !TRANSACTION_END_COMMANDS.has(name)) {
    throw serverError(
      ErrorCodes.InvalidOptions,
      'writeConcern is not allowed within a multi-statement transaction',
    );
  }
  if (name === 'count') {
    throw serverError(
      ErrorCodes.OperationNotSupportedInTransaction,
      "Cannot run 'count' in a multi-document transaction. Please see http://dochub.mongodb.org/core/transaction-count for a recommended alternative.",
    );
  }
  if (!ALLOWED_IN_TRANSACTION.has(name)) {
    throw serverError(
      ErrorCodes.OperationNotSupportedInTransaction,
      `Cannot run '${name}' in a multi-document transaction.`,
    );
  }
  if (db === 'config' || db === 'local' || (db === 'admin' && !TRANSACTION_END_COMMANDS.has(name))) {
    throw serverError(
      ErrorCodes.OperationNotSupportedInTransaction,
      `Cannot run command against the '${db}' database in a transaction.`,
    );
  }
}
