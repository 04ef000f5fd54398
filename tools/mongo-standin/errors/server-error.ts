import type { Document } from 'bson';

/**
 * An error answered to the client the way mongod answers it: `{ ok: 0, errmsg, code, codeName,
 * errorLabels?, ...extra }`. Anything thrown inside a command handler that is not a
 * MongoServerError is answered as InternalError (1) with its message.
 */
export class MongoServerError extends Error {
  constructor(
    readonly code: number,
    readonly codeName: string,
    message: string,
    readonly errorLabels: string[] = [],
    readonly extra: Document = {},
  ) {
    super(message);
    this.name = 'MongoServerError';
  }

  toReply(): Document {
    const reply: Document = {
      ok: 0,
      errmsg: this.message,
      code: this.code,
      codeName: this.codeName,
      ...this.extra,
    };
    if (this.errorLabels.length) reply.errorLabels = this.errorLabels;
    return reply;
  }
}

/** mongod's codes used by the stand-in, by name. */
export const ErrorCodes = {
  InternalError: 1,
  BadValue: 2,
  NoSuchKey: 4,
  FailedToParse: 9,
  TypeMismatch: 14,
  IllegalOperation: 20,
  NamespaceNotFound: 26,
  CursorNotFound: 43,
  NamespaceExists: 48,
  MaxTimeMSExpired: 50,
  CommandNotFound: 59,
  InvalidOptions: 72,
  ImmutableField: 66,
  NoSuchTransaction: 251,
  TransactionCommitted: 256,
  InvalidResumeToken: 260,
  ChangeStreamFatalError: 280,
  ChangeStreamHistoryLost: 286,
  NotWritablePrimary: 10107,
  InterruptedDueToReplStateChange: 11602,
  DuplicateKey: 11000,
  Location40324: 40324, // Unrecognized pipeline stage name
  Location40573: 40573, // $changeStream only in first stage / invalid options
  WriteConflict: 112,
  // Added by the server half:
  Unauthorized: 13,
  ProtocolError: 17,
  AuthenticationFailed: 18,
  PathNotViable: 28,
  CommandNotSupportedOnView: 166,
  Location40415: 40415, // BSON field '<command>.<field>' is an unknown field
  IndexNotFound: 27,
  ConflictingUpdateOperators: 40,
  DollarPrefixedFieldName: 52,
  InvalidIdField: 53,
  CannotCreateIndex: 67,
  InvalidNamespace: 73,
  IndexOptionsConflict: 85,
  IndexKeySpecsConflict: 86,
  TransactionTooOld: 225,
  OperationNotSupportedInTransaction: 263,
  Location40323: 40323, // A pipeline stage must contain exactly one field
  Location40602: 40602, // $changeStream is only valid as the first stage in a pipeline
  // CRUD: collations, let variables, document validation.
  IncompatibleCollationVersion: 161,
  DocumentValidationFailure: 121,
  QueryFeatureNotAllowed: 224,
  // What the stand-in refuses rather than evaluate unlike mongod (not IllegalOperation (20): the
  // Node driver rewrites a code-20 reply to a retryable write into a "no retryable writes" error).
  NotImplemented: 238,
  Location40414: 40414, // BSON field '<struct>.<field>' is missing but a required field
  Location51024: 51024, // BSON field '<field>' value must be <bound>
  Location16866: 16866, // empty variable names are not allowed
  Location16867: 16867, // a let variable name starts with an invalid character
  Location16868: 16868, // a let variable name contains an invalid character
  Location17276: 17276, // Use of undefined variable
  Location13113: 13113, // $merge whenNotMatched 'fail' found no matching document
  Location40081: 40081, // $in requires an array as a second argument
  Location40601: 40601, // $out / $merge can only be the final stage
  Location51132: 51132, // $merge 'on' field missing, null or an array
  Location51183: 51183, // $merge 'on' fields without a unique index
  // Transient and replication-state errors (fail points answer them; labels.ts classifies them):
  HostUnreachable: 6,
  HostNotFound: 7,
  StaleShardVersion: 63,
  NetworkTimeout: 89,
  ShutdownInProgress: 91,
  FailedToSatisfyReadPreference: 133,
  ReadConcernMajorityNotAvailableYet: 134,
  StaleEpoch: 150,
  PrimarySteppedDown: 189,
  ElectionInProgress: 216,
  RetryChangeStream: 234,
  ExceededTimeLimit: 262,
  SocketException: 9001,
  InterruptedAtShutdown: 11600,
  StaleConfig: 13388,
  NotPrimaryNoSecondaryOk: 13435,
  NotPrimaryOrSecondary: 13436,
  Interrupted: 11601,
  // Write concern (reported as writeConcernError) and transaction-transient codes (labels.ts):
  UnknownReplWriteConcern: 79,
  UnsatisfiableWriteConcern: 100,
  WriteConcernFailed: 64,
  LockTimeout: 24,
  SnapshotTooOld: 239,
  SnapshotUnavailable: 246,
  StaleDbVersion: 249,
  StaleChunkHistory: 250,
  PreparedTransactionInProgress: 267,
} as const;

export const codeNameOf = (code: number): string =>
  (Object.entries(ErrorCodes).find(([, value]) => value === code)?.[0] as string | undefined) ??
  `Location${code}`;

export const serverError = (code: number, message: string, labels: string[] = [], extra: Document = {}) =>
  new MongoServerError(code, codeNameOf(code), message, labels, extra);
