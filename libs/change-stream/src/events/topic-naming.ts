/** Topic names: one place decides them for the publisher and the consumer. */

/** What Kafka accepts as a topic name: 1 to 249 letters, digits, ".", "_" or "-". */
export const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

/** `<prefix>.<db>.<collection>` (the default topic of a watched collection). */
export function defaultTopic(prefix: string, db: string, collection: string): string {
  return `${prefix}.${db}.${collection}`;
}

/** The dead-letter topic of a topic: `<topic><suffix>` (suffix `.dlq` by default). */
export function deadLetterTopic(topic: string, suffix: string): string {
  return `${topic}${suffix}`;
}

/**
 * The relay's dead-letter topic (`relay.onUnpublishable: 'deadLetter'`): `<prefix>-relay.dlq`.
 * NOTE: "-" after the prefix, where event topics have "." (`<prefix>.<db>...`), so it can never be
 * the topic of a database or collection; the `.dlq` ending matches the consumer's dead-letter topics.
 */
export function relayDeadLetterTopic(prefix: string): string {
  return `${prefix}-relay.dlq`;
}

/**
 * The exactly-once relay's checkpoint topic (`relay.delivery: 'exactly-once'`): `<prefix>-relay.checkpoints`,
 * compacted, keyed by stream; "-" after the prefix for the same reason as {@link relayDeadLetterTopic}.
 */
export function relayCheckpointTopic(prefix: string): string {
  return `${prefix}-relay.checkpoints`;
}

/**
 * The exactly-once relay's Kafka `transactional.id` of a stream: `<prefix>-relay.<stream>`. The same
 * on every replica, so a new leader's InitProducerId fences the old one; the topic prefix (not the
 * client id) keeps two deployments that share a cluster and a stream name apart, as it does for the
 * checkpoint topic.
 */
export function relayTransactionalId(prefix: string, stream: string): string {
  return `${prefix}-relay.${stream}`;
}

/** Why `topic` is not a valid Kafka topic name, or null when it is. */
export function invalidTopicReason(topic: string): string | null {
  return TOPIC_NAME.test(topic)
    ? null
    : `${JSON.stringify(topic)} is not a valid Kafka topic name (1-249 letters, digits, ".", "_" or "-")`;
}
