import { randomBytes } from 'node:crypto';
import { Int32, Timestamp, type Document } from 'bson';
import { encodeChangeEvent, formatClusterTime, type EncodedChangeEvent } from '../events/change-event.codec';
import type {
  ChangeEvent,
  ChangeNamespace,
  DeleteEvent,
  DocumentId,
  DropDatabaseEvent,
  DropEvent,
  InsertEvent,
  InvalidateEvent,
  RenameEvent,
  ReplaceEvent,
  ResumeToken,
  SnapshotEndEvent,
  SnapshotEvent,
  SnapshotStartEvent,
  UpdateDescription,
  UpdateEvent,
} from '../events/change-event.interface';

/** The database builders use when none is given; also the testing module's default. */
export const TEST_DATABASE = 'test';

/** Options common to every builder. */
export interface EventBuildOptions {
  /** Database of the collection. Default `'test'`. */
  db?: string;
  /** The event id (`_id._data`). Default: a fresh random one. */
  eventId?: string;
  clusterTime?: Timestamp;
  wallTime?: Date;
}

/** Options of the resnapshot marker builders. */
export interface MarkerBuildOptions extends EventBuildOptions {
  /** The run id. Default: the cluster time as `<seconds>.<increment>`, as the relay makes it. */
  runId?: string;
  /** This copy's partition (default 0) of `partitions` (default 1). */
  partition?: number;
  partitions?: number;
}

let sequence = 0;

/** A fresh resume-token-like event id: hex, unique across calls and processes. */
export function newEventId(): string {
  sequence = (sequence + 1) % 0xffffffff;
  return `82${Date.now().toString(16).padStart(12, '0')}${sequence.toString(16).padStart(8, '0')}${randomBytes(8).toString('hex')}`.toUpperCase();
}

function common(options: EventBuildOptions): { _id: ResumeToken; clusterTime: Timestamp; wallTime: Date } {
  const wallTime = options.wallTime ?? new Date();
  return {
    _id: { _data: options.eventId ?? newEventId() },
    clusterTime: options.clusterTime ?? new Timestamp({ t: Math.floor(wallTime.getTime() / 1000), i: 1 }),
    wallTime,
  };
}

const ns = (collection: string, options: EventBuildOptions): ChangeNamespace => ({
  db: options.db ?? TEST_DATABASE,
  coll: collection,
});

function idOf(document: Document, what: string): unknown {
  if (!('_id' in document)) throw new TypeError(`changeEvents.${what}: the document has no _id`);
  return document._id;
}

/**
 * Builders of typed change events for tests, shaped as MongoDB emits them (resume token, cluster
 * time, wall time, namespace, documentKey).
 *
 * @example
 * const paid = changeEvents.update<Order>('orders', orderId, { updatedFields: { status: 'paid' } });
 * const gone = changeEvents.delete<Order>('orders', orderId);
 */
export const changeEvents = {
  /** An `insert` event of `fullDocument` (its `_id` is the document key). */
  insert<T extends Document>(
    collection: string,
    fullDocument: T,
    options: EventBuildOptions = {},
  ): InsertEvent<T> {
    return {
      ...common(options),
      operationType: 'insert',
      ns: ns(collection, options),
      documentKey: { _id: idOf(fullDocument, 'insert') as DocumentId<T> },
      fullDocument,
    };
  },

  /** An `update` event of the document with this `_id`. */
  update<T extends Document>(
    collection: string,
    id: DocumentId<T>,
    updateDescription: UpdateDescription<T>,
    options: EventBuildOptions & { fullDocument?: T | null; fullDocumentBeforeChange?: T | null } = {},
  ): UpdateEvent<T> {
    const { fullDocument, fullDocumentBeforeChange } = options;
    return {
      ...common(options),
      operationType: 'update',
      ns: ns(collection, options),
      documentKey: { _id: id },
      updateDescription: {
        updatedFields: {} as Partial<T>,
        removedFields: [],
        truncatedArrays: [],
        ...updateDescription,
      },
      ...(fullDocument === undefined ? {} : { fullDocument }),
      ...(fullDocumentBeforeChange === undefined ? {} : { fullDocumentBeforeChange }),
    };
  },

  /** A `replace` event of `fullDocument`. */
  replace<T extends Document>(
    collection: string,
    fullDocument: T,
    options: EventBuildOptions & { fullDocumentBeforeChange?: T | null } = {},
  ): ReplaceEvent<T> {
    const { fullDocumentBeforeChange } = options;
    return {
      ...common(options),
      operationType: 'replace',
      ns: ns(collection, options),
      documentKey: { _id: idOf(fullDocument, 'replace') as DocumentId<T> },
      fullDocument,
      ...(fullDocumentBeforeChange === undefined ? {} : { fullDocumentBeforeChange }),
    };
  },

  /** A `delete` event of the document with this `_id` (no fullDocument). */
  delete<T extends Document>(
    collection: string,
    id: DocumentId<T>,
    options: EventBuildOptions & { fullDocumentBeforeChange?: T | null } = {},
  ): DeleteEvent<T> {
    const { fullDocumentBeforeChange } = options;
    return {
      ...common(options),
      operationType: 'delete',
      ns: ns(collection, options),
      documentKey: { _id: id },
      ...(fullDocumentBeforeChange === undefined ? {} : { fullDocumentBeforeChange }),
    };
  },

  /** A `snapshot` event (a resnapshot run's copy of a document). */
  snapshot<T extends Document>(
    collection: string,
    fullDocument: T,
    options: EventBuildOptions = {},
  ): SnapshotEvent<T> {
    return {
      ...common(options),
      operationType: 'snapshot',
      ns: ns(collection, options),
      documentKey: { _id: idOf(fullDocument, 'snapshot') as DocumentId<T> },
      fullDocument,
    };
  },

  /** The start marker of a resnapshot run over `collections`, as one partition receives it. */
  snapshotStart(collections: string | string[], options: MarkerBuildOptions = {}): SnapshotStartEvent {
    return { ...marker(collections, options), operationType: 'snapshotStart' };
  },

  /** The end marker of a resnapshot run over `collections`, as one partition receives it. */
  snapshotEnd(collections: string | string[], options: MarkerBuildOptions = {}): SnapshotEndEvent {
    return { ...marker(collections, options), operationType: 'snapshotEnd' };
  },

  /** A `drop` event of the collection. */
  drop(collection: string, options: EventBuildOptions = {}): DropEvent {
    return { ...common(options), operationType: 'drop', ns: ns(collection, options) };
  },

  /** A `rename` event of the collection to `to`. */
  rename(collection: string, to: string | ChangeNamespace, options: EventBuildOptions = {}): RenameEvent {
    const from = ns(collection, options);
    return {
      ...common(options),
      operationType: 'rename',
      ns: from,
      to: typeof to === 'string' ? { db: from.db, coll: to } : to,
    };
  },

  /** A `dropDatabase` event. */
  dropDatabase(options: EventBuildOptions = {}): DropDatabaseEvent {
    return { ...common(options), operationType: 'dropDatabase', ns: { db: options.db ?? TEST_DATABASE } };
  },

  /** An `invalidate` event. */
  invalidate(options: EventBuildOptions = {}): InvalidateEvent {
    return { ...common(options), operationType: 'invalidate' };
  },
};

function marker(collections: string | string[], options: MarkerBuildOptions) {
  const base = common(options);
  return {
    ...base,
    ns: { db: options.db ?? TEST_DATABASE },
    runId: options.runId ?? formatClusterTime(base.clusterTime),
    collections: typeof collections === 'string' ? [collections] : collections,
    partition: new Int32(options.partition ?? 0),
    partitions: new Int32(options.partitions ?? 1),
  };
}

/**
 * The Kafka message the relay would publish for `event` (key, canonical EJSON value, headers),
 * for integration tests that produce to a real topic.
 */
export function toKafkaMessage(
  event: ChangeEvent,
  options: { eventId?: string; epoch?: number } = {},
): EncodedChangeEvent {
  const eventId = options.eventId ?? (event._id as ResumeToken | undefined)?._data ?? newEventId();
  return encodeChangeEvent(event, eventId, options.epoch ?? 1);
}
