/** How the relay classifies MongoDB errors the driver did not resume by itself. Internal. */
import { Int32 } from 'bson';
import { MESSAGES } from '../change-stream.messages';
import { HistoryLostError } from '../errors/history-lost.error';
import { StreamRejectedError } from '../errors/stream-rejected.error';
import type { ResolvedStream } from '../interfaces/change-stream-options.interface';
import type { StreamPosition } from './checkpoint.store';

/**
 * What the relay does about a stream error:
 * - `historyLost`: the onHistoryLost policy applies;
 * - `idModified`, `splitMismatch`, `rejected`: the stream's pipeline or options cannot work; stop by policy;
 * - `eventTooLarge`: a change event is over MongoDB's 16 MB limit; stop by policy (retrying reads it again);
 * - `retry`: reopen from the last position after a backoff.
 */
export type StreamErrorClass =
  'historyLost' | 'idModified' | 'splitMismatch' | 'rejected' | 'eventTooLarge' | 'retry';

/** ChangeStreamHistoryLost, InvalidResumeToken. */
const HISTORY_LOST = new Set([286, 260]);
/** ChangeStreamFatalError: history lost, or a pipeline that cannot be resumed; see {@link classify280}. */
const CHANGE_STREAM_FATAL = 280;
/**
 * The server rejected the stream itself (bad pipeline or options): retrying cannot help.
 * BadValue, FailedToParse, InvalidOptions, unrecognized stage, $changeStream option
 * errors, $changeStreamSplitLargeEvent not last / with a non-empty spec.
 */
const REJECTED = new Set([2, 9, 72, 40324, 40573, 7182800, 7182802]);
/**
 * BSONObjectTooLarge (an event over 16 MB without $changeStreamSplitLargeEvent), and 7182500 (split
 * on, but one field alone is over the fragment limit).
 */
const EVENT_TOO_LARGE = new Set([10334, 7182500]);

/** The server error code; an Int32 too (the relay's cursors decode replies with promoteValues: false). */
export function errorCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  const value = code instanceof Int32 ? code.value : code;
  return typeof value === 'number' ? value : undefined;
}

/** What the relay should do about `error` (see {@link StreamErrorClass}). */
export function classifyStreamError(error: unknown): StreamErrorClass {
  const code = errorCode(error) ?? -1;
  if (code === CHANGE_STREAM_FATAL) return classify280(String((error as Error).message ?? ''));
  if (HISTORY_LOST.has(code)) return 'historyLost';
  if (EVENT_TOO_LARGE.has(code)) return 'eventTooLarge';
  if (REJECTED.has(code)) return 'rejected';
  return 'retry';
}

/**
 * mongod raises 280 (ChangeStreamFatalError) for a lost resume point ("cannot resume stream; the
 * resume token was not found") and for pipelines that break resumability. Only the message tells
 * them apart (same code, same NonResumableChangeStreamError label), so this matches the fixed
 * wording of mongod 7.0's pipeline checks:
 * - "... _id field, which contains the resume token, was modified by the pipeline ..."
 *   (document_source_change_stream_check_resumability / ensure_resume_token_present);
 * - "To resume from a split event, the $changeStream pipeline must include a
 *   $changeStreamSplitLargeEvent stage", "Attempted to resume from a split event ..." (the split stage).
 * Anything else keeps the old meaning: the stream cannot continue from its checkpoint.
 */
function classify280(message: string): StreamErrorClass {
  if (/_id field.*modified by the pipeline/is.test(message)) return 'idModified';
  if (/split event/i.test(message)) return 'splitMismatch';
  return 'historyLost';
}

/**
 * The error that stops the stream for `error`, or undefined when a reopen may help: history lost
 * (for the onHistoryLost policy), or a rejection (stop by policy) naming what to change.
 */
export function fatalStreamError(
  stream: ResolvedStream,
  error: unknown,
  position: StreamPosition,
): HistoryLostError | StreamRejectedError | undefined {
  const name = stream.name;
  const rejected = (message: string) => new StreamRejectedError(name, errorCode(error), message, error);
  switch (classifyStreamError(error)) {
    case 'historyLost':
      return new HistoryLostError(
        name,
        errorCode(error)!,
        MESSAGES.historyLost(name, error, position),
        error,
      );
    case 'idModified':
      return rejected(MESSAGES.pipelineModifiedId(name, error));
    case 'splitMismatch':
      return rejected(MESSAGES.splitMismatch(name, error));
    case 'eventTooLarge':
      return rejected(MESSAGES.eventTooLarge(name, error, stream.splitLargeEvents));
    case 'rejected':
      return rejected(MESSAGES.streamRejected(name, error));
    case 'retry':
      return undefined;
  }
}
