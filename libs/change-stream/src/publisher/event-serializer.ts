import type { Document } from 'bson';
import { encodeChangeEvent } from '../events/change-event.codec';
import type { ResolvedStream } from '../interfaces/change-stream-options.interface';
import type { OutgoingMessage } from './outgoing-message';

/** The topics an event of `stream` goes to: its collection's topic, or the stream's database topics. */
export function topicsOf(stream: ResolvedStream, event: Document): string[] {
  const ns = event.ns as { coll?: string } | undefined;
  const coll = ns?.coll ?? (stream.collections?.length === 1 ? stream.collections[0] : undefined);
  return coll === undefined ? stream.databaseTopics : [stream.topicOf(coll)];
}

/** The Kafka messages of one change (or snapshot) event: same key, value and headers on each of its topics. */
export function serializeEvent(
  stream: ResolvedStream,
  event: Document,
  eventId: string,
  epoch: number,
): OutgoingMessage[] {
  const { key, value, headers } = encodeChangeEvent(event, eventId, epoch);
  // NOTE: bytes, not a string: thousands of events wait in flight for Kafka's acknowledgement, and
  // strings that old would be copied by every young-generation GC and then promoted.
  const bytes = Buffer.from(value);
  return topicsOf(stream, event).map((topic) => ({ topic, key, value: bytes, headers }));
}

/** Approximate bytes of messages on the wire (for the in-flight bound). */
export function sizeOf(messages: readonly OutgoingMessage[]): number {
  let bytes = 0;
  for (const m of messages) bytes += m.key.length + m.value.length + 64;
  return bytes;
}
