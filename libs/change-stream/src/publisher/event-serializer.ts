import type { Document } from 'bson';
import { encodeChangeEvent } from '../events/change-event.codec';
import { invalidTopicReason } from '../events/topic-naming';
import type { ResolvedStream } from '../interfaces/change-stream-options.interface';
import type { OutgoingMessage } from './outgoing-message';

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
    const invalid = invalidTopicReason(topic);
    if (invalid) throw new Error(invalid);
  }
  return topics;
}

/** The Kafka messages of one change (or snapshot) event: same key, value and headers on each of its topics. */
export function serializeEvent(
  stream: ResolvedStream,
  event: Document,
  eventId: string,
  epoch: number,
): OutgoingMessage[] {
  const encoded = encodeChangeEvent(event, eventId, epoch);
  return topicsOf(stream, event).map((topic) => ({ topic, ...encoded }));
}
