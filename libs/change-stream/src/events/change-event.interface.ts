import type { Binary, Document, Int32, Long, Timestamp } from 'bson';

/**
 * Typed change events as handlers receive them: decoded from canonical Extended JSON back to BSON
 * types (ObjectId, Decimal128, Long, Date, Binary, Timestamp). `ChangeEvent<T>` is a union
 * discriminated by `operationType`, so a field exists only on the events that can carry it:
 * `fullDocument` on insert, replace, snapshot (and optionally update), `updateDescription` only on
 * update, `to` only on rename.
 *
 * @example
 * handle(event: ChangeEvent<Order>) {
 *   switch (event.operationType) {
 *     case 'insert': return this.add(event.fullDocument);        // Order
 *     case 'update': return this.patch(event.documentKey._id, event.updateDescription.updatedFields);
 *     case 'delete': return this.remove(event.documentKey._id);  // no fullDocument here
 *   }
 * }
 */

/** The resume token of a stream event; `_data` is the event id. */
export interface ResumeToken {
  _data: string;
}

/** `{ db, coll }` of a collection-level event. */
export interface ChangeNamespace {
  db: string;
  coll: string;
}

/** The `_id` type of a document type (unknown when the type declares none). */
export type DocumentId<T> = T extends { _id: infer Id } ? Id : unknown;

/** Identifies the changed document: its `_id`, plus the shard key fields on a sharded collection. */
export type DocumentKey<T> = { _id: DocumentId<T> } & Document;

/** What an update changed (present on update events only). */
export interface UpdateDescription<T> {
  /** New values of the fields the update set, keyed by (dotted) path. */
  updatedFields?: Partial<T> & Document;
  /** Paths the update removed. */
  removedFields?: string[];
  /** Arrays the update truncated, with their new sizes. */
  truncatedArrays?: Array<{ field: string; newSize: number }>;
  /** Paths whose components are ambiguous (numeric keys or dots in names); MongoDB 6.1+. */
  disambiguatedPaths?: Document;
}

/** Fields every event published from a change stream carries. */
export interface ChangeEventBase {
  /** The resume token; `_id._data` is the event id. */
  _id: ResumeToken;
  /** Cluster time of the oplog entry; several events of one transaction share it. */
  clusterTime?: Timestamp;
  /** Server wall-clock time of the operation (MongoDB 6.0+). */
  wallTime?: Date;
  /** Transaction number and session id, when the write was part of a transaction. */
  txnNumber?: Long | number;
  lsid?: Document;
  /** UUID of the collection (with showExpandedEvents, MongoDB 6.1+). */
  collectionUUID?: Binary;
}

interface DocumentEventBase<T> extends ChangeEventBase {
  ns: ChangeNamespace;
  documentKey: DocumentKey<T>;
}

/** A document was inserted: `fullDocument` is the inserted document. */
export interface InsertEvent<T extends Document = Document> extends DocumentEventBase<T> {
  operationType: 'insert';
  fullDocument: T;
}

/**
 * A document was updated. `fullDocument` exists only when the stream asked for it
 * (`fullDocument: 'updateLookup' | 'whenAvailable' | 'required'`), and is null when the document
 * was deleted before the lookup; `fullDocumentBeforeChange` needs pre-images.
 */
export interface UpdateEvent<T extends Document = Document> extends DocumentEventBase<T> {
  operationType: 'update';
  updateDescription: UpdateDescription<T>;
  fullDocument?: T | null;
  fullDocumentBeforeChange?: T | null;
}

/** A document was replaced: `fullDocument` is the new document. */
export interface ReplaceEvent<T extends Document = Document> extends DocumentEventBase<T> {
  operationType: 'replace';
  fullDocument: T;
  fullDocumentBeforeChange?: T | null;
}

/**
 * A document was deleted. There is no `fullDocument`: the document is gone. Its last version is in
 * `fullDocumentBeforeChange` only when the collection records pre-images and the stream asked for them.
 */
export interface DeleteEvent<T extends Document = Document> extends DocumentEventBase<T> {
  operationType: 'delete';
  fullDocumentBeforeChange?: T | null;
}

/**
 * A document read during a resnapshot (after the change stream's history was lost), published so
 * read models can rebuild. Its id is derived from the snapshot run and the document key.
 */
export interface SnapshotEvent<T extends Document = Document> extends Omit<DocumentEventBase<T>, '_id'> {
  operationType: 'snapshot';
  _id?: ResumeToken | Document;
  fullDocument: T;
}

/**
 * A resnapshot run's start or end, sent to every partition of every topic its documents go to
 * (`partition` of `partitions`), with the run's operation time as `clusterTime`. In each partition,
 * the start marker comes before the run's snapshot events and the end marker after them (and before
 * the changes streamed after the run). Once a consumer has applied the end marker of every partition
 * of a topic, every document of `collections` that still existed at the run's operation time has
 * reached it as a snapshot event of `runId`: a row of those collections the run did not see (and
 * that no change at or after `clusterTime` wrote) belongs to a document deleted while history was lost.
 */
export interface SnapshotMarkerBase extends ChangeEventBase {
  ns: { db: string };
  /** The run (the id part of its snapshot events' ids). */
  runId: string;
  /** The collections of the run whose events go to this topic. */
  collections: string[];
  /**
   * This copy's partition, and how many partitions the topic had when the run started (Int32, as
   * canonical Extended JSON decodes them: `Number(event.partitions)`).
   */
  partition: Int32;
  partitions: Int32;
}

/** A resnapshot run starts (see {@link SnapshotMarkerBase}). */
export interface SnapshotStartEvent extends SnapshotMarkerBase {
  operationType: 'snapshotStart';
}

/** A resnapshot run has published all of its snapshot events (see {@link SnapshotMarkerBase}). */
export interface SnapshotEndEvent extends SnapshotMarkerBase {
  operationType: 'snapshotEnd';
}

/** The collection was dropped. */
export interface DropEvent extends ChangeEventBase {
  operationType: 'drop';
  ns: ChangeNamespace;
}

/** The collection was renamed to `to`. */
export interface RenameEvent extends ChangeEventBase {
  operationType: 'rename';
  ns: ChangeNamespace;
  to: ChangeNamespace;
  operationDescription?: Document;
}

/** The database was dropped. */
export interface DropDatabaseEvent extends ChangeEventBase {
  operationType: 'dropDatabase';
  ns: { db: string };
}

/** The stream can no longer continue (after drop, rename or dropDatabase of what it watched). */
export interface InvalidateEvent extends ChangeEventBase {
  operationType: 'invalidate';
}

/** The DDL operations reported with `showExpandedEvents` (MongoDB 6.0+). */
export type ExpandedOperationType =
  | 'create'
  | 'createIndexes'
  | 'dropIndexes'
  | 'modify'
  | 'shardCollection'
  | 'reshardCollection'
  | 'refineCollectionShardKey';

/** An expanded DDL event: the operation's details are in `operationDescription`. */
export interface ExpandedDdlEvent<
  Op extends ExpandedOperationType = ExpandedOperationType,
> extends ChangeEventBase {
  operationType: Op;
  ns: ChangeNamespace;
  operationDescription?: Document;
  /** `create` only: what was created. */
  nsType?: 'collection' | 'timeseries' | 'view';
  /** `modify` only, with pre-images: the collection options before the change. */
  stateBeforeChange?: Document;
}

/** Any change event of a collection whose documents have type `T`. */
export type ChangeEvent<T extends Document = Document> =
  | InsertEvent<T>
  | UpdateEvent<T>
  | ReplaceEvent<T>
  | DeleteEvent<T>
  | SnapshotEvent<T>
  | SnapshotStartEvent
  | SnapshotEndEvent
  | DropEvent
  | RenameEvent
  | DropDatabaseEvent
  | InvalidateEvent
  | ExpandedDdlEvent<'create'>
  | ExpandedDdlEvent<'createIndexes'>
  | ExpandedDdlEvent<'dropIndexes'>
  | ExpandedDdlEvent<'modify'>
  | ExpandedDdlEvent<'shardCollection'>
  | ExpandedDdlEvent<'reshardCollection'>
  | ExpandedDdlEvent<'refineCollectionShardKey'>;

/** Every operationType a handler can receive. */
export type ChangeOperationType = ChangeEvent['operationType'];

/** The events of some operation types, e.g. `ChangeEventOf<Order, 'insert' | 'replace'>`. */
export type ChangeEventOf<T extends Document, Op extends ChangeOperationType> = Extract<
  ChangeEvent<T>,
  { operationType: Op }
>;

/** Events about one document (they carry `documentKey`). */
export type DocumentChangeEvent<T extends Document = Document> = ChangeEventOf<
  T,
  'insert' | 'update' | 'replace' | 'delete' | 'snapshot'
>;

/** The operation types that carry a `fullDocument` field (always, or optionally on update). */
export type OperationWithFullDocument = 'insert' | 'update' | 'replace' | 'snapshot';

/** All operation types, for validation and documentation. */
export const CHANGE_OPERATION_TYPES = Object.freeze([
  'insert',
  'update',
  'replace',
  'delete',
  'snapshot',
  'snapshotStart',
  'snapshotEnd',
  'drop',
  'rename',
  'dropDatabase',
  'invalidate',
  'create',
  'createIndexes',
  'dropIndexes',
  'modify',
  'shardCollection',
  'reshardCollection',
  'refineCollectionShardKey',
] as const satisfies readonly ChangeOperationType[]);
