import { EJSON, Timestamp, type Document } from 'bson';
import { UndecodableMessageError } from '../errors/undecodable-message.error';
import { canonicalEJSON } from './canonical-ejson';
import { CHANGE_EVENT_HEADERS as H, CHANGE_EVENT_SCHEMA_VERSION } from './change-event.headers';

/** A change event ready for Kafka: key, value and headers as strings. */
export interface EncodedChangeEvent {
  key: string;
  value: string;
  headers: Record<string, string>;
}

/** A decoded message: the event with BSON types restored, and the facts carried in its headers. */
export interface DecodedChangeEvent {
  eventId: string;
  epoch?: string;
  event: Document;
}

const CANONICAL = { relaxed: false } as const;

/** `<seconds>.<increment>` of a BSON Timestamp, as carried in the cluster-time header. */
export function formatClusterTime(ts: Timestamp | undefined): string {
  return ts ? `${ts.high}.${ts.low}` : '';
}

/** The inverse of formatClusterTime; undefined for an empty or malformed header. */
export function parseClusterTime(value: string | undefined): Timestamp | undefined {
  const match = /^(\d+)\.(\d+)$/.exec(value ?? '');
  return match ? new Timestamp({ t: Number(match[1]), i: Number(match[2]) }) : undefined;
}

/** The partitioning key of an event: canonical EJSON of its documentKey, so one document keeps one partition. */
export function encodeKey(documentKey: Document | undefined): string {
  return canonicalEJSON(documentKey ?? null);
}

/**
 * Encodes one change event. `eventId` is the resume token's `_data` for stream events; the value is
 * canonical EJSON, so every BSON type survives the round trip (Int32, Long and Double stay apart,
 * regex options are kept) when the event was decoded type-preserving (the relay's EXACT_BSON). The
 * text is bson's `EJSON.stringify(event, { relaxed: false })`, written by the faster canonicalEJSON.
 */
export function encodeChangeEvent(
  event: Document,
  eventId: string,
  epoch: number | bigint | string,
): EncodedChangeEvent {
  const ns = event.ns as { db?: string; coll?: string } | undefined;
  return {
    key: encodeKey(event.documentKey),
    value: canonicalEJSON(event),
    headers: {
      [H.eventId]: eventId,
      [H.operationType]: String(event.operationType),
      [H.namespace]: ns?.coll ? `${ns.db}.${ns.coll}` : (ns?.db ?? ''),
      [H.clusterTime]: formatClusterTime(event.clusterTime as Timestamp | undefined),
      [H.epoch]: String(epoch),
      [H.schema]: CHANGE_EVENT_SCHEMA_VERSION,
    },
  };
}

type RawHeaders = Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined;

function header(headers: RawHeaders, name: string): string | undefined {
  const raw = headers?.[name];
  const first = Array.isArray(raw) ? raw[0] : raw;
  return first === undefined ? undefined : first.toString();
}

/**
 * Decodes a Kafka message published by this library. Throws UndecodableMessageError naming what is
 * wrong (missing value, bad EJSON, no operationType, no event id) so the worker can dead-letter it.
 */
export function decodeChangeEvent(
  value: Buffer | string | null | undefined,
  headers: RawHeaders,
): DecodedChangeEvent {
  if (value === null || value === undefined || value.length === 0) {
    throw new UndecodableMessageError('message has no value (expected canonical EJSON of a change event)');
  }
  let event: unknown;
  try {
    event = EJSON.parse(value.toString(), CANONICAL);
  } catch (error) {
    throw new UndecodableMessageError(
      `message value is not valid Extended JSON: ${(error as Error).message}`,
      error,
    );
  }
  if (!event || typeof event !== 'object' || Array.isArray(event)) {
    throw new UndecodableMessageError('message value is not a JSON object (expected a change event)');
  }
  const doc = event as Document;
  if (typeof doc.operationType !== 'string') {
    throw new UndecodableMessageError('message value has no string operationType (not a change event)');
  }
  const eventId = header(headers, H.eventId) ?? (doc._id as { _data?: unknown } | undefined)?._data;
  if (typeof eventId !== 'string' || eventId.length === 0) {
    throw new UndecodableMessageError(
      `message has neither a "${H.eventId}" header nor a resume token _id._data`,
    );
  }
  return { eventId, epoch: header(headers, H.epoch), event: doc };
}
