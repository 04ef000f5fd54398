import type { Document } from 'bson';
import { StreamRejectedError } from '../errors/stream-rejected.error';
import { encodeChangeEvent } from '../events/change-event.codec';
import { CHANGE_EVENT_HEADERS as H } from '../events/change-event.headers';
import type { ResolvedStream } from '../interfaces/change-stream-options.interface';
import { topicsOf } from '../options/routing';
import { serializeEvent, type OutgoingMessage } from '../publisher/outgoing-message';

/** `splitEvent` of a fragment MongoDB's `$changeStreamSplitLargeEvent` made: `fragment` of `of`, from 1. */
export interface SplitEventField {
  fragment: number;
  of: number;
}

/** The `splitEvent` field of a change, when it is a well-formed fragment. */
export function splitEventOf(change: Document): SplitEventField | undefined {
  const split = change.splitEvent as { fragment?: unknown; of?: unknown } | undefined;
  if (!split || typeof split !== 'object') return undefined;
  const fragment = Number(split.fragment);
  const of = Number(split.of);
  if (!Number.isInteger(fragment) || !Number.isInteger(of) || fragment < 1 || fragment > of) return undefined;
  return { fragment, of };
}

/** True for a fragment that is not its event's last: the relay's position must not pass it alone. */
export const isUnfinishedFragment = (change: Document): boolean => {
  const split = splitEventOf(change);
  return split !== undefined && split.fragment < split.of;
};

/** What the later fragments of an event take from its first: where it goes, its key and its id. */
interface EventHead {
  eventId: string;
  routing: Document;
}

/** Fields of a change event that route and key it; MongoDB puts them in the first fragment (the smallest fields). */
const ROUTING_FIELDS = ['operationType', 'ns', 'documentKey', 'clusterTime'] as const;

/**
 * Turns the changes of a stream into Kafka messages, remembering the first fragment of a split event
 * so that every fragment goes to the same topic with the same key (one partition, in order), with
 * headers `cdc-fragment: <n>/<of>` and `cdc-split-event-id: <first fragment's id>`. The value of each
 * message is the fragment as MongoDB returned it. Internal.
 */
export class SplitEventSerializer {
  private head: EventHead | null = null;

  constructor(
    private readonly stream: ResolvedStream,
    private readonly epoch: number,
  ) {}

  /** The messages of one change (whole event or fragment). Throws on a fragment whose first was not read. */
  messagesOf(change: Document, eventId: string): OutgoingMessage[] {
    const split = splitEventOf(change);
    if (!split) return serializeEvent(this.stream, change, eventId, this.epoch);
    if (split.fragment === 1) this.head = { eventId, routing: pick(change) };
    const head = this.head;
    if (!head) throw this.orphan(split, eventId);
    if (split.fragment === split.of) this.head = null;
    const { key, headers } = encodeChangeEvent({ _id: change._id, ...head.routing }, eventId, this.epoch);
    const { value } = encodeChangeEvent(change, eventId, this.epoch);
    Object.assign(headers, { [H.fragment]: `${split.fragment}/${split.of}`, [H.splitEventId]: head.eventId });
    return topicsOf(this.stream, head.routing).map((topic) => ({
      topic,
      key,
      value,
      headers: { ...headers },
    }));
  }

  private orphan(split: SplitEventField, eventId: string): StreamRejectedError {
    const name = this.stream.name;
    return new StreamRejectedError(
      name,
      undefined,
      `Stream "${name}": fragment ${split.fragment} of ${split.of} of a split event (${eventId}) came without its first fragment; ` +
        'the relay cannot key or route it. Restart the stream (it resumes before the event).',
    );
  }
}

function pick(change: Document): Document {
  const routing: Document = {};
  for (const field of ROUTING_FIELDS) if (change[field] !== undefined) routing[field] = change[field];
  return routing;
}
