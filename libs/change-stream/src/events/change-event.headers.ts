/**
 * Kafka header names carried by every message the relay publishes. One place defines the wire
 * format; the publisher writes it and the worker reads it.
 */
export const CHANGE_EVENT_HEADERS = {
  /** The event id: the resume token's `_data` (or a deterministic id for snapshot events). */
  eventId: 'cdc-event-id',
  /** insert | update | replace | delete | drop | rename | dropDatabase | invalidate | snapshot | ... */
  operationType: 'cdc-operation',
  /** `<db>.<collection>` (or `<db>` for database-level events). */
  namespace: 'cdc-namespace',
  /** The event's cluster time as `<seconds>.<increment>`. */
  clusterTime: 'cdc-cluster-time',
  /** The leader epoch that published the message (decimal). */
  epoch: 'cdc-epoch',
  /**
   * The partition a message must go to (decimal), set on resnapshot markers only: they are sent to
   * every partition of their topic. Other messages go where their key's hash puts them.
   */
  partition: 'cdc-partition',
  /**
   * On a fragment of an event MongoDB split (`streams[].splitLargeEvents`): `<n>/<of>`, n from 1.
   * Each fragment is its own message, in order, with the event's key; consumers reassemble them.
   */
  fragment: 'cdc-fragment',
  /** On a fragment: the whole event's id (its first fragment's event id), the id it is handled under. */
  splitEventId: 'cdc-split-event-id',
  /** Wire-format version of the value. */
  schema: 'cdc-schema',
} as const;

/** Current value format: canonical Extended JSON v2 of the whole change event. */
export const CHANGE_EVENT_SCHEMA_VERSION = '1';
