/**
 * The error labels mongod (4.4+) attaches by itself, and which codes earn them. At wire version 9+
 * the driver retries writes and resumes change streams by these labels alone.
 */
import { ErrorCodes } from './errors';

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
