/** A Kafka message that is not a change event this library can decode (a foreign producer, bad EJSON). */
export class UndecodableMessageError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'UndecodableMessageError';
  }
}
