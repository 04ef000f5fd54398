/**
 * Kafka refused a batch with an error no retry can fix (record too large, invalid topic, not
 * authorized). The relay stops the stream with this error instead of retrying forever; the
 * checkpoint stays before the refused batch.
 */
export class KafkaRefusedError extends Error {
  constructor(
    readonly stream: string,
    /** kafkajs' error type, e.g. `RECORD_LIST_TOO_LARGE` or `TOPIC_AUTHORIZATION_FAILED`. */
    readonly type: string,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'KafkaRefusedError';
  }
}
