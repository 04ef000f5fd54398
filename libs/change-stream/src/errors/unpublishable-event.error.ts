/**
 * The relay cannot publish one change event (its topic cannot be decided or is not a valid Kafka
 * topic name, it cannot be encoded, or it is larger than the largest record Kafka takes). With
 * `relay.onUnpublishable: 'fail'` (the default) the stream stops with this error; its position
 * stays before the event, so nothing after it is published either.
 */
export class UnpublishableEventError extends Error {
  constructor(
    readonly stream: string,
    /** The event's id (its resume token's `_data`). */
    readonly eventId: string,
    /** `db.collection` (or `db`) of the event. */
    readonly namespace: string,
    /** Why it cannot be published. */
    readonly reason: string,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'UnpublishableEventError';
  }
}
