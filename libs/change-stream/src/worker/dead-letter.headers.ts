/**
 * Headers added to a message copied to the dead-letter topic (`<topic>.dlq`). The original key,
 * value and headers are kept, so a re-drive can publish the message back unchanged.
 */
export const DEAD_LETTER_HEADERS = {
  /** `handler-failed` (retries exhausted) or `undecodable` (not a change event this library can read). */
  reason: 'cdc-dlq-reason',
  /** Id of the handler that failed (empty for `undecodable`). */
  handler: 'cdc-dlq-handler',
  /** `<ErrorName>: <message>` of the last failure (at most 1 000 characters). */
  error: 'cdc-dlq-error',
  /** Attempts made before giving up (0 for `undecodable`). */
  attempts: 'cdc-dlq-attempts',
  /** Where the message was read: topic, partition and offset. */
  topic: 'cdc-dlq-topic',
  partition: 'cdc-dlq-partition',
  offset: 'cdc-dlq-offset',
  /** The consumer group that gave up. */
  group: 'cdc-dlq-group',
  /** ISO-8601 time of the dead-lettering. */
  failedAt: 'cdc-dlq-failed-at',
} as const;

/** Why a message was dead-lettered. */
export type DeadLetterReason = 'handler-failed' | 'undecodable';
