/** How the relay classifies MongoDB errors the driver did not resume by itself. Internal. */

/** ChangeStreamHistoryLost, InvalidResumeToken, ChangeStreamFatalError: the onHistoryLost policy applies. */
const HISTORY_LOST = new Set([286, 260, 280]);
/**
 * The server rejected the stream itself (bad pipeline or options): retrying cannot help.
 * BadValue, FailedToParse, InvalidOptions, unrecognized stage, $changeStream option errors.
 */
const REJECTED = new Set([2, 9, 72, 40324, 40573]);

export function errorCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export const isHistoryLost = (error: unknown): boolean => HISTORY_LOST.has(errorCode(error) ?? -1);

export const isRejectedStream = (error: unknown): boolean => REJECTED.has(errorCode(error) ?? -1);
