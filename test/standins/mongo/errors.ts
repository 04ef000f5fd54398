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
    const reply: Document = { ok: 0, errmsg: this.message, code: this.code, codeName: this.codeName, ...this.extra };
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
} as const;

export const codeNameOf = (code: number): string =>
  (Object.entries(ErrorCodes).find(([, value]) => value === code)?.[0] as string | undefined) ?? `Location${code}`;

export const serverError = (code: number, message: string, labels: string[] = [], extra: Document = {}) =>
  new MongoServerError(code, codeNameOf(code), message, labels, extra);
