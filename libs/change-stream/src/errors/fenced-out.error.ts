/**
 * A checkpoint write was rejected because the stream's epoch moved on: a newer leader exists.
 * The relay that sees it stops reading and publishing at once.
 */
export class FencedOutError extends Error {
  constructor(
    readonly stream: string,
    readonly epoch: number,
  ) {
    super(`Checkpoint of stream "${stream}" rejected for epoch ${epoch}: a newer leader took over`);
    this.name = 'FencedOutError';
  }
}
