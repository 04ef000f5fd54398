/** Session operations of the unified format: transactions, withTransaction, endSession. */
import type { Document } from 'bson';
import type { ClientSession, TransactionOptions } from 'mongodb';
import type { Handler, OperationDescription } from './types';

const withTransaction: Handler = async (session: ClientSession, { callback, ...options }, context) => {
  // NOTE: each callback operation checks its own expectations and rethrows its error, so that
  // withTransaction sees it (to retry on TransientTransactionError, or abort), as the format says.
  await session.withTransaction(async () => {
    for (const operation of callback as OperationDescription[]) await context.runNested(operation);
  }, options as TransactionOptions);
};

export const SESSION_HANDLERS: Record<string, Handler> = {
  startTransaction: async (session: ClientSession, options: Document) =>
    void session.startTransaction(options as TransactionOptions),
  commitTransaction: (session: ClientSession, options) => session.commitTransaction(options),
  abortTransaction: (session: ClientSession, options) => session.abortTransaction(options),
  endSession: (session: ClientSession) => session.endSession(),
  withTransaction,
};
