import { classifyStreamError } from './mongo-errors';

/** A server error as the driver raises it: code and mongod's errmsg. */
const serverError = (code: number, message: string) => Object.assign(new Error(message), { code });

// The messages are mongod 7.0's (document_source_change_stream_*.cpp, change_stream_split_event_helpers.cpp).
const ID_MODIFIED =
  'Encountered an event whose _id field, which contains the resume token, was modified by the pipeline. ' +
  'Modifying the _id field of an event makes it impossible to resume the stream from that point. ' +
  'Only transformations that retain the unmodified _id field are allowed. Expected: { _id: { _data: "82" } } but found: {}';
const TOKEN_NOT_FOUND = 'cannot resume stream; the resume token was not found. {_data: "8265"}';
const SPLIT_RESUME =
  'To resume from a split event, the $changeStream pipeline must include a $changeStreamSplitLargeEvent stage';
const TOO_LARGE =
  'Executor error during getMore :: caused by :: BSONObj size: 18874600 (0x1200068) is invalid. ' +
  'Size must be between 0 and 16793600(16MB) First element: _id: { _data: "8265" }';

describe('classifyStreamError', () => {
  it.each([
    [
      '286 ChangeStreamHistoryLost',
      serverError(286, 'Resume of change stream was not possible'),
      'historyLost',
    ],
    ['260 InvalidResumeToken', serverError(260, 'cannot decode resume token'), 'historyLost'],
    ['280 resume token not found', serverError(280, TOKEN_NOT_FOUND), 'historyLost'],
    ['280 _id modified by the pipeline', serverError(280, ID_MODIFIED), 'idModified'],
    ['280 split resume without the split stage', serverError(280, SPLIT_RESUME), 'splitMismatch'],
    ['10334 BSONObjectTooLarge', serverError(10334, TOO_LARGE), 'eventTooLarge'],
    [
      '7182500 a fragment still too large',
      serverError(7182500, 'Splitting change event failed'),
      'eventTooLarge',
    ],
    ['40324 unrecognized stage', serverError(40324, "Unrecognized pipeline stage name: '$x'"), 'rejected'],
    ['6 HostUnreachable', serverError(6, 'host unreachable'), 'retry'],
    ['a network error', new Error('connection reset'), 'retry'],
  ])('%s is %s', (_, error, expected) => {
    expect(classifyStreamError(error)).toBe(expected);
  });
});
