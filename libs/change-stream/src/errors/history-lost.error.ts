/**
 * The change stream cannot continue from its checkpoint: the oplog no longer holds it (286), the
 * token is invalid (260) or the stream cannot be resumed (280). Handled by the `onHistoryLost` policy.
 */
export class HistoryLostError extends Error {
  constructor(
    readonly stream: string,
    readonly code: number,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'HistoryLostError';
  }
}
