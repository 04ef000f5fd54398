/**
 * The error labels mongod (4.4+) attaches by itself, and which codes earn them. At wire version 9+
 * the driver retries writes and resumes change streams by these labels alone.
 */
import { ErrorCodes } from './server-error';

export const ErrorLabel = {
  RetryableWriteError: 'RetryableWriteError',
  TransientTransactionError: 'TransientTransactionError',
  UnknownTransactionCommitResult: 'UnknownTransactionCommitResult',
  ResumableChangeStreamError: 'ResumableChangeStreamError',
} as const;

/** Network, shutdown and replica-state-change codes: both label lists below start from these. */
const NODE_STATE_CODES = [
  ErrorCodes.HostUnreachable,
  ErrorCodes.HostNotFound,
  ErrorCodes.NetworkTimeout,
  ErrorCodes.ShutdownInProgress,
  ErrorCodes.PrimarySteppedDown,
  ErrorCodes.ExceededTimeLimit,
  ErrorCodes.SocketException,
  ErrorCodes.NotWritablePrimary,
  ErrorCodes.InterruptedAtShutdown,
  ErrorCodes.InterruptedDueToReplStateChange,
  ErrorCodes.NotPrimaryNoSecondaryOk,
  ErrorCodes.NotPrimaryOrSecondary,
] as const;

/** Codes for which a retryable write (or commit/abortTransaction) is labelled RetryableWriteError. */
export const RETRYABLE_WRITE_CODES: ReadonlySet<number> = new Set<number>([
  ...NODE_STATE_CODES,
  ErrorCodes.ReadConcernMajorityNotAvailableYet,
]);

/**
 * Codes for which a failed getMore on a change-stream cursor is labelled ResumableChangeStreamError
 * (the driver's change-stream spec list; StaleShardVersion is no longer labelled by 7.0).
 */
export const RESUMABLE_CHANGE_STREAM_CODES: ReadonlySet<number> = new Set<number>([
  ...NODE_STATE_CODES,
  ErrorCodes.StaleEpoch,
  ErrorCodes.StaleConfig,
  ErrorCodes.RetryChangeStream,
  ErrorCodes.FailedToSatisfyReadPreference,
]);

/** How a command relates to sessions, which decides the labels its errors get. */
export interface CommandTraits {
  name: string;
  /** A write with txnNumber outside a transaction. */
  retryableWrite: boolean;
  /** commitTransaction / abortTransaction. */
  endsTransaction: boolean;
  /** Runs inside a multi-document transaction (autocommit: false; commit and abort too). */
  inTransaction: boolean;
}

/** Codes after which a transaction can be run again from the start (with no effect left behind). */
const TRANSIENT_TRANSACTION_CODES: ReadonlySet<number> = new Set<number>([
  ErrorCodes.WriteConflict,
  ErrorCodes.LockTimeout,
  ErrorCodes.PreparedTransactionInProgress,
  ErrorCodes.SnapshotTooOld,
  ErrorCodes.SnapshotUnavailable,
  ErrorCodes.StaleChunkHistory,
  ErrorCodes.StaleDbVersion,
  ErrorCodes.StaleConfig,
  ErrorCodes.StaleShardVersion,
  ErrorCodes.StaleEpoch,
]);

/**
 * The labels mongod's ErrorLabelBuilder gives an error reply (code: the top-level error, absent on
 * ok: 1; wcCode: a writeConcernError's). TransientTransactionError only inside a transaction and
 * for a top-level error: on commit/abort for WriteConflict-like codes and for NoSuchTransaction
 * without a writeConcernError, on other statements also for retryable codes. RetryableWriteError
 * for retryable codes of a retryable write or of commit/abort.
 */
export function automaticLabels(traits: CommandTraits, code?: number, wcCode?: number): string[] {
  if (code !== undefined && traits.inTransaction && isTransient(code, wcCode !== undefined, traits)) {
    return [ErrorLabel.TransientTransactionError];
  }
  const retryable = (value: number | undefined) => value !== undefined && RETRYABLE_WRITE_CODES.has(value);
  if ((traits.retryableWrite || traits.endsTransaction) && (retryable(code) || retryable(wcCode))) {
    return [ErrorLabel.RetryableWriteError];
  }
  return [];
}

function isTransient(code: number, hasWriteConcernError: boolean, traits: CommandTraits): boolean {
  if (TRANSIENT_TRANSACTION_CODES.has(code)) return true;
  if (traits.endsTransaction) return code === ErrorCodes.NoSuchTransaction && !hasWriteConcernError;
  return code === ErrorCodes.NoSuchTransaction || RETRYABLE_WRITE_CODES.has(code);
}
