/**
 * Kafka header names carried by every message the listener publishes. One place defines the wire
 * format; the publisher writes it and the consumer reads it.
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
  /** Wire-format version of the value. */
  schema: 'cdc-schema',
} as const;

/** Current value format: canonical Extended JSON v2 of the whole change event. */
export const CHANGE_EVENT_SCHEMA_VERSION = '1';
