/** The errors a change stream raises, with mongod's codes, code names, labels and wording. */
import { ErrorCodes, MongoServerError, serverError } from '../errors/server-error';
import type { ResumeToken } from './resume-token';

const NON_RESUMABLE = ['NonResumableChangeStreamError'];

/** 286: the resume point is older than the retained oplog. */
export const historyLost = () =>
  serverError(
    ErrorCodes.ChangeStreamHistoryLost,
    'Resume of change stream was not possible, as the resume point may no longer be in the oplog.',
    NON_RESUMABLE,
  );

/** 280: the event a resume token names is not in this stream's history. */
export const resumeTokenNotFound = (token: ResumeToken) =>
  serverError(
    ErrorCodes.ChangeStreamFatalError,
    `cannot resume stream; the resume token was not found. ${JSON.stringify(token)}`,
    NON_RESUMABLE,
  );

/** 280: a stage after `$changeStream` changed the event's `_id` (its resume token); mongod names both. */
export const idModified = (token: ResumeToken, found: unknown) =>
  serverError(
    ErrorCodes.ChangeStreamFatalError,
    'Encountered an event whose _id field, which contains the resume token, was modified by the pipeline. ' +
      'Modifying the _id field of an event makes it impossible to resume the stream from that point. ' +
      'Only transformations that retain the unmodified _id field are allowed. ' +
      `Expected: { _id: { _data: "${token._data}" } } but found: ${found === undefined ? '{}' : `{ _id: ${JSON.stringify(found)} }`}`,
    NON_RESUMABLE,
  );

/** 260: a malformed token, or `resumeAfter` on an invalidate. */
export const invalidResumeToken = (message: string) => serverError(ErrorCodes.InvalidResumeToken, message);

/** 47 NoMatchingDocument: a `required` pre- or post-image is missing. */
export const imageNotFound = (image: 'pre-image' | 'post-image', ops: string, event: string) =>
  new MongoServerError(
    47,
    'NoMatchingDocument',
    `Change stream was configured to require a ${image} for all ${ops} events, but the ${image} was not found for event: ${event}`,
  );

/** 73 InvalidNamespace: a stream on an internal database or a misplaced cluster stream. */
export const invalidNamespace = (message: string) => serverError(ErrorCodes.InvalidNamespace, message);

/** 40415: an option `$changeStream` does not know. */
export const unknownField = (field: string) =>
  serverError(40415, `BSON field '$changeStream.${field}' is an unknown field.`);

/** 14 TypeMismatch for a `$changeStream` option of the wrong type. */
export const wrongType = (field: string, expected: string, actual: string) =>
  serverError(
    ErrorCodes.TypeMismatch,
    `BSON field '$changeStream.${field}' is the wrong type '${actual}', expected type '${expected}'`,
  );

/** 2 BadValue for an enumeration option with an unknown value. */
export const badEnum = (field: string, value: unknown) =>
  serverError(
    ErrorCodes.BadValue,
    `Enumeration value '${String(value)}' for field '$changeStream.${field}' is not a valid value.`,
  );

/** 40674: more than one of resumeAfter / startAfter / startAtOperationTime. */
export const multipleResumeOptions = () =>
  serverError(40674, 'Only one type of resume option is allowed, but multiple were found.');
