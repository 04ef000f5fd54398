/** MongoDB rejected a stream's pipeline or options; the relay stops that stream (retrying cannot help). */
export class StreamRejectedError extends Error {
  constructor(
    readonly stream: string,
    readonly code: number | undefined,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'StreamRejectedError';
  }
}
