import { EJSON, type Document } from 'bson';
import { MESSAGES } from '../change-stream.messages';
import { UnpublishableEventError } from '../errors/unpublishable-event.error';
import { encodeKey, formatClusterTime } from '../events/change-event.codec';
import { CHANGE_EVENT_HEADERS as H } from '../events/change-event.headers';
import type { RelayStats } from '../health/relay-stats';
import type { ResolvedChangeStreamOptions } from '../interfaces/change-stream-options.interface';
import { recordBytes, surelyFits, type BatchLimits } from '../publisher/kafka-limits';
import type { OutgoingMessage } from '../publisher/outgoing-message';

/** What decides the fate of an event the relay cannot publish (relay.onUnpublishable). */
export interface UnpublishablePolicy {
  stream: string;
  relay: Pick<ResolvedChangeStreamOptions['relay'], 'onUnpublishable' | 'deadLetterTopic'>;
  limits: BatchLimits;
  epoch: number;
  stats: Pick<RelayStats, 'unpublishable'>;
}

/** The dead-letter record of an event the relay could not publish (never the event itself). */
export interface RelayDeadLetter {
  stream: string;
  eventId: string;
  /** `db.collection`, or `db` for database events. */
  namespace: string;
  operationType: string;
  /** `<seconds>.<increment>`. */
  clusterTime: string;
  /** Canonical Extended JSON of the event's documentKey. */
  documentKey: unknown;
  reason: string;
  /** Record bytes of the event, when it was refused for its size. */
  size?: number;
  epoch: number;
}

/**
 * The messages to relay for one event: `encode()`'s, when it succeeds and they fit in one Kafka
 * batch; otherwise the policy's answer. `'fail'` throws UnpublishableEventError; `'deadLetter'`
 * returns one record for `relay.deadLetterTopic` with the reason. Either way counted in the stream's stats.
 * Used for change events, and for any other event a source publishes (fragments, snapshot events).
 */
export function publishableMessages(
  policy: UnpublishablePolicy,
  event: Document,
  eventId: string,
  encode: () => OutgoingMessage[],
): OutgoingMessage[] {
  let messages: OutgoingMessage[];
  try {
    messages = encode();
  } catch (error) {
    return unpublishable(policy, event, eventId, (error as Error).message ?? String(error));
  }
  if (surelyFits(messages, policy.limits.maxBatchBytes)) return messages;
  const size = recordBytes(messages);
  if (size <= policy.limits.maxBatchBytes) return messages;
  const reason = `too large: ${size} bytes, over the ${policy.limits.maxBatchBytes} bytes of the largest batch Kafka takes (the topics' max.message.bytes, relay.maxBatchBytes)`;
  return unpublishable(policy, event, eventId, reason, size);
}

function unpublishable(
  policy: UnpublishablePolicy,
  event: Document,
  eventId: string,
  reason: string,
  size?: number,
): OutgoingMessage[] {
  policy.stats.unpublishable();
  const namespace = namespaceOf(event);
  if (policy.relay.onUnpublishable === 'fail') {
    const message = MESSAGES.unpublishable(policy.stream, eventId, namespace, reason);
    throw new UnpublishableEventError(policy.stream, eventId, namespace, reason, message);
  }
  const record: RelayDeadLetter = {
    stream: policy.stream,
    eventId,
    namespace,
    operationType: String(event.operationType),
    clusterTime: formatClusterTime(event.clusterTime),
    documentKey: EJSON.serialize(event.documentKey ?? null, { relaxed: false }),
    reason,
    ...(size === undefined ? {} : { size }),
    epoch: policy.epoch,
  };
  return [
    {
      topic: policy.relay.deadLetterTopic,
      key: encodeKey(event.documentKey),
      value: JSON.stringify(record),
      headers: { [H.eventId]: eventId, [H.namespace]: namespace, [H.epoch]: String(policy.epoch) },
    },
  ];
}

function namespaceOf(event: Document): string {
  const ns = event.ns as { db?: string; coll?: string } | undefined;
  return ns?.coll ? `${ns.db}.${ns.coll}` : (ns?.db ?? '');
}
