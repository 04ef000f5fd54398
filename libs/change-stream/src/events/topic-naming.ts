/** Topic names: one place decides them for the publisher and the consumer. */

/** `<prefix>.<db>.<collection>` (the default topic of a watched collection). */
export function defaultTopic(prefix: string, db: string, collection: string): string {
  return `${prefix}.${db}.${collection}`;
}

/** The dead-letter topic of a topic: `<topic><suffix>` (suffix `.dlq` by default). */
export function deadLetterTopic(topic: string, suffix: string): string {
  return `${topic}${suffix}`;
}
