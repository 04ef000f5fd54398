/** The leader lease was lost (renewal failed or its validity ran short); the leader stopped at once. */
export class LeaseLostError extends Error {
  constructor(
    readonly lease: string,
    readonly reason: string,
  ) {
    super(`Lease "${lease}" lost: ${reason}`);
    this.name = 'LeaseLostError';
  }
}
