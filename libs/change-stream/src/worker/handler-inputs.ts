import { decodeChangeEvent, type DecodedChangeEvent } from '../events/change-event.codec';
import type { ChangeContextInit } from '../handlers/change-context';
import type { ChangeHandlerRegistration } from '../handlers/change-handler.registry';
import { idempotencyKeyOf } from '../idempotency/idempotency-key';
import type { ProcessedMarker } from '../idempotency/processed-event.store';
import { headersAsStrings, type ChangeMessage } from './change-message';

/** A handler's context for one message, but for what each call sets: the attempt and the session. */
export type ContextBase = Omit<ChangeContextInit, 'attempt' | 'session'>;

/** The decoded message, or an Error whose cause is the decoding error. */
export function decode(message: ChangeMessage): DecodedChangeEvent | Error {
  try {
    return decodeChangeEvent(message.value, message.headers);
  } catch (error) {
    return new Error('undecodable', { cause: error });
  }
}

/** What the handler's context says about the message: ids, where it was read, its key and headers. */
export function contextBaseOf(
  handler: ChangeHandlerRegistration,
  decoded: DecodedChangeEvent,
  message: ChangeMessage,
): ContextBase {
  const epoch = decoded.epoch === undefined ? undefined : Number(decoded.epoch);
  return {
    eventId: decoded.eventId,
    handlerId: handler.id,
    idempotencyKey: idempotencyKeyOf(handler.id, decoded.eventId),
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    epoch: Number.isFinite(epoch) ? epoch : undefined,
    maxAttempts: handler.retry.attempts,
    transactional: handler.transaction,
    key: message.key?.toString(),
    headers: Object.freeze(headersAsStrings(message.headers)),
    ...(message.receivedAt === undefined ? {} : { receivedAt: new Date(message.receivedAt) }),
  };
}

/** The handler's processed-event marker for the message. */
export function markerOf(
  handler: ChangeHandlerRegistration,
  decoded: DecodedChangeEvent,
  message: ChangeMessage,
): ProcessedMarker {
  return {
    handlerId: handler.id,
    eventId: decoded.eventId,
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
  };
}
