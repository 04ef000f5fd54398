/** How the relay classifies Kafka errors. Internal. */

/**
 * kafkajs error types no retry can fix: the record or batch is too large, the topic name is
 * invalid, or this client is not authorized. Retrying them would stall the stream forever.
 */
const UNRETRIABLE = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_TOPIC_EXCEPTION',
  'INVALID_RECORD',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'POLICY_VIOLATION',
]);

/**
 * The kafkajs protocol error type of `error` (e.g. `MESSAGE_TOO_LARGE`), looked up on the error and
 * its causes: kafkajs wraps a broker's error in KafkaJSNonRetriableError with the original as `cause`.
 * Errors from the producer thread carry it as `type` too.
 */
export function kafkaErrorType(error: unknown): string | undefined {
  let current = error as { type?: unknown; cause?: unknown } | null | undefined;
  for (let depth = 0; current && depth < 5; depth++) {
    if (typeof current.type === 'string') return current.type;
    current = current.cause as typeof current;
  }
  return undefined;
}

/** The type of a Kafka error that cannot succeed on retry, or undefined for any other error. */
export function unretriableKafkaError(error: unknown): string | undefined {
  const type = kafkaErrorType(error);
  return type && UNRETRIABLE.has(type) ? type : undefined;
}
