/** A `@ChangeHandler` declaration cannot be used as written. Names the handler and what is wrong. */
export class InvalidChangeHandlerError extends Error {
  constructor(
    /** `<ClassName>.<methodName>` of the handler. */
    readonly handler: string,
    /** What is wrong, as a sentence fragment. */
    readonly problem: string,
  ) {
    super(`@ChangeHandler ${handler}: ${problem}`);
    this.name = 'InvalidChangeHandlerError';
  }
}
