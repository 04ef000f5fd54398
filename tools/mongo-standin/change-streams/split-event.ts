/**
 * mongod 7.0's size limit on change events and `$changeStreamSplitLargeEvent`: an event over the
 * limit is BSONObjectTooLarge (10334) without the stage; with it, the event is cut into fragments
 * `{ _id: <fragment token>, splitEvent: { fragment, of }, ...fields }`, each under the limit, and a
 * stream resumed from a fragment's token continues with the next fragment.
 */
import { calculateObjectSize, type Document } from 'bson';
import { ErrorCodes, MongoServerError, serverError } from '../errors/server-error';
import { decodeResumeToken, encodeResumeToken, type ResumeToken } from './resume-token';

/** mongod's BSONObjMaxInternalSize (16 MB + 16 KB): no event over it can be returned. */
export const BSON_OBJ_MAX_INTERNAL_SIZE = 16 * 1024 * 1024 + 16 * 1024;
/** The split stage's limit (kBSONObjMaxChangeEventSize): BSONObjMaxInternalSize - 8 KB. */
export const MAX_CHANGE_EVENT_SIZE = BSON_OBJ_MAX_INTERNAL_SIZE - 8 * 1024;
/** The stage's name; mongod requires it last in the pipeline, with an empty spec. */
export const SPLIT_STAGE = '$changeStreamSplitLargeEvent';

const NON_RESUMABLE = ['NonResumableChangeStreamError'];

/**
 * The documents a stream returns for `event`: the event itself when it fits, else mongod's error
 * (no split stage) or its fragments (split on). `resumedFragment`: the stream resumed from this
 * fragment (index from 0) of this event; only the fragments after it are returned.
 */
export function sizedOutput(event: Document, split: boolean, resumedFragment?: number): Document[] {
  const size = calculateObjectSize(event);
  if (!split) {
    if (size > BSON_OBJ_MAX_INTERNAL_SIZE) throw objectTooLarge(size, event._id as ResumeToken);
    return [event];
  }
  if (size <= MAX_CHANGE_EVENT_SIZE) {
    if (resumedFragment !== undefined) throw resumedEventNotSplit();
    return [event];
  }
  const token = event._id as ResumeToken;
  const fragments = splitChangeEvent(event, MAX_CHANGE_EVENT_SIZE - calculateObjectSize(token));
  if (resumedFragment === undefined) return fragments;
  if (resumedFragment >= fragments.length) throw differentSplit();
  return fragments.slice(resumedFragment + 1);
}

/**
 * Cuts an event as mongod does (change_stream_split_event_helpers): fields but `_id` ordered by
 * (BSON size, name), greedily packed so the first fragments hold as many fields as fit.
 */
function splitChangeEvent(event: Document, maxFragmentSize: number): Document[] {
  const fields = Object.entries(event)
    .filter(([key]) => key !== '_id')
    .map(([key, value]) => ({ key, value, size: calculateObjectSize({ [key]: value }) - 5 }))
    .sort((a, b) => a.size - b.size || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const data = decodeResumeToken(event._id);
  const fragments: Document[] = [];
  while (fields.length) {
    const fragment: Document = {
      _id: encodeResumeToken({ ...data, fragmentNum: fragments.length }),
      splitEvent: { fragment: fragments.length + 1, of: 0 },
    };
    let size = calculateObjectSize(fragment);
    do {
      const field = fields.shift()!;
      fragment[field.key] = field.value;
      size += field.size;
    } while (fields.length && size + fields[0].size <= maxFragmentSize);
    if (size > maxFragmentSize) throw fragmentTooLarge(size, maxFragmentSize);
    fragments.push(fragment);
  }
  for (const fragment of fragments) (fragment.splitEvent as Document).of = fragments.length;
  return fragments;
}

/** 10334: mongod cannot build a reply document over BSONObjMaxInternalSize. */
function objectTooLarge(size: number, id: ResumeToken): MongoServerError {
  return new MongoServerError(
    10334,
    'BSONObjectTooLarge',
    `BSONObj size: ${size} (0x${size.toString(16).toUpperCase()}) is invalid. ` +
      `Size must be between 0 and ${BSON_OBJ_MAX_INTERNAL_SIZE}(16MB) First element: _id: { _data: "${id?._data}" }`,
  );
}

function fragmentTooLarge(size: number, max: number): MongoServerError {
  return new MongoServerError(
    7182500,
    'Location7182500',
    `Splitting change event failed: fragment size ${size} is greater than maximum allowed fragment size ${max}`,
  );
}

/** 280 at open: a fragment token without the split stage. */
export const splitResumeWithoutStage = () =>
  serverError(
    ErrorCodes.ChangeStreamFatalError,
    `To resume from a split event, the $changeStream pipeline must include a ${SPLIT_STAGE} stage`,
    NON_RESUMABLE,
  );

const resumedEventNotSplit = () =>
  serverError(
    ErrorCodes.ChangeStreamFatalError,
    'Attempted to resume from a split event fragment, but the event in the resumed stream was not large enough to be split',
    NON_RESUMABLE,
  );

const differentSplit = () =>
  serverError(
    ErrorCodes.ChangeStreamFatalError,
    'Attempted to resume from a split event, but the resumed stream produced a different split. ' +
      'Ensure that the pipeline used to resume is the same as the original',
    NON_RESUMABLE,
  );
