/**
 * Where an event goes: topic names, the topic of each event and of each handler, and the namespaces
 * never relayed. One module for the relay (serializer, snapshot), the worker and the options.
 */
import type { Document } from 'bson';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import type {
  Namespace,
  ResolvedChangeStreamOptions,
  ResolvedStream,
} from '../interfaces/change-stream-options.interface';

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
 * the topic of a database or collection; the `.dlq` ending matches the worker's dead-letter topics.
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

/** `value` when it is a valid topic name, else InvalidOptionsError naming `path`. */
export function checkedTopic(value: string, path: string): string {
  if (!TOPIC_NAME.test(value))
    throw new InvalidOptionsError(path, 'a Kafka topic name (1-249 letters, digits, ".", "_" or "-")', value);
  return value;
}

/** Namespaces are `db` or `db.coll`; whether `ns` falls under one of `excluded`. */
export function isExcluded(excluded: readonly string[], ns: Partial<Namespace>): boolean {
  return excluded.some(
    (entry) => entry === ns.db || (ns.coll !== undefined && entry === `${ns.db}.${ns.coll}`),
  );
}

/**
 * The Kafka topic of a collection's events, or undefined when no configured stream watches it.
 * The worker uses it to subscribe to the right topic for a `@ChangeHandler`'s collection.
 */
export function topicFor(
  options: Pick<ResolvedChangeStreamOptions, 'streams' | 'excludeNamespaces'>,
  db: string,
  coll: string,
): string | undefined {
  if (isExcluded(options.excludeNamespaces, { db, coll })) return undefined;
  const stream = options.streams.find(
    (s) => s.db === db && (s.collections === null || s.collections.includes(coll)),
  );
  return stream?.topicOf(coll);
}

/**
 * The topics an event of `stream` goes to: its collection's topic, or the stream's database topics.
 * Throws when a topic cannot be decided (a user `topic` function threw) or is not a valid topic
 * name (a whole-database stream meets collection names Kafka refuses only at run time).
 */
export function topicsOf(stream: ResolvedStream, event: Document): string[] {
  const ns = event.ns as { coll?: string } | undefined;
  const coll = ns?.coll ?? (stream.collections?.length === 1 ? stream.collections[0] : undefined);
  const topics = coll === undefined ? stream.databaseTopics : [stream.topicOf(coll)];
  for (const topic of topics) {
    if (validTopics.has(topic)) continue;
    const invalid = invalidTopicReason(topic);
    if (invalid) throw new Error(invalid);
    if (validTopics.size >= VALID_TOPICS_KEPT) validTopics.clear();
    validTopics.add(topic);
  }
  return topics;
}

/** Topic names found valid: an event's topic is checked once, not once per event. */
const validTopics = new Set<string>();
/** Bound of validTopics (a whole-database stream meets as many names as collections). */
const VALID_TOPICS_KEPT = 10_000;

/**
 * The topic rule of a stream's `topic` option: a function of the namespace (its result checked), a
 * fixed name, or `<prefix>.<db>.<collection>`. `path` names the option in errors.
 */
export function streamTopicOf(
  topic: string | ((ns: Namespace) => string) | undefined,
  prefix: string,
  db: string,
  path: string,
): (coll: string) => string {
  if (typeof topic === 'function')
    return (coll) => checkedTopic(topic({ db, coll }), `${path} (returned for ${db}.${coll})`);
  if (typeof topic === 'string') return () => topic;
  return (coll) => defaultTopic(prefix, db, coll);
}
