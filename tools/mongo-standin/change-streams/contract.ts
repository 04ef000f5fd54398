/**
 * The seam between the two halves of the MongoDB stand-in:
 *  - the server (wire protocol, commands, storage, sessions, transactions, fail points), and
 *  - the change-stream engine (oplog with bounded retention, resume tokens, `$changeStream`
 *    cursors, event shapes, pre/post images).
 *
 * The storage reports every committed write to the engine as WriteEvents (one call per write
 * command or per committed transaction, in commit order). The engine asks the storage for the
 * current document (updateLookup) and for a collection's options (UUID, pre/post images).
 */
import type { Binary, Document, Long, Timestamp } from 'bson';

export type WriteOp =
  | 'insert'
  | 'update'
  | 'replace'
  | 'delete'
  | 'drop'
  | 'rename'
  | 'dropDatabase'
  | 'create'
  | 'createIndexes'
  | 'dropIndexes'
  | 'modify';

/** One committed change, as the storage saw it. */
export interface WriteEvent {
  op: WriteOp;
  db: string;
  /** Absent for dropDatabase. */
  coll?: string;
  /** The collection's UUID (BSON Binary subtype 4), when the collection exists(ed). */
  collectionUUID?: Binary;
  /** `{ _id }` for insert/update/replace/delete. */
  documentKey?: Document;
  /** Full document before the write (update, replace, delete). Always given; the engine decides exposure. */
  before?: Document;
  /** Full document after the write (insert, update, replace). */
  after?: Document;
  /** For op 'update': the update as the client sent it (operator document or pipeline array). */
  update?: Document | Document[];
  /** For op 'rename': the target namespace. */
  to?: { db: string; coll: string };
  /** For DDL events shown with showExpandedEvents (create, createIndexes, dropIndexes, modify). */
  operationDescription?: Document;
  /** Set for writes committed by a multi-document transaction. */
  lsid?: Document;
  txnNumber?: Long;
}

/** What the storage offers the engine. */
export interface ChangeStreamHost {
  /** The current version of a document, or null (for fullDocument: updateLookup / whenAvailable / required). */
  findByKey(db: string, coll: string, documentKey: Document): Document | null;
  /** A collection's metadata, or null when it does not exist. */
  collectionInfo(db: string, coll: string): { uuid: Binary; changeStreamPreAndPostImages: boolean } | null;
}

/** Parameters of an aggregate whose first stage is `$changeStream`. */
export interface OpenChangeStream {
  db: string;
  /** null for a database-level stream (aggregate: 1); with db 'admin' and allChangesForCluster, a cluster stream. */
  coll: string | null;
  /** The `$changeStream` stage's spec (resumeAfter, startAfter, startAtOperationTime, fullDocument, ...). */
  spec: Document;
  /** The stages after `$changeStream`, evaluated on each event. */
  pipeline: Document[];
  /** cursor.batchSize of the aggregate (0 allowed: open with an empty first batch). */
  batchSize?: number;
  /** The aggregate's collation, if any. */
  collation?: Document;
}

export interface ChangeStreamBatch {
  events: Document[];
  postBatchResumeToken: Document;
}

/** A change-stream cursor. The server owns cursor ids and routes getMore / killCursors to it. */
export interface ChangeStreamCursor {
  /** "db.coll", or "db.$cmd.aggregate" for database and cluster streams, as mongod reports it. */
  readonly ns: string;
  /** The first batch (returned by openCursor; never waits). */
  /** Next batch: waits up to maxTimeMS (awaitData; default 1000) for at least one event. */
  getMore(batchSize: number | undefined, maxTimeMS: number | undefined): Promise<ChangeStreamBatch>;
  /** True once the stream was invalidated and its invalidate event delivered: the server then reports cursor id 0. */
  readonly exhausted: boolean;
  close(): void;
}

/** The change-stream engine as the server uses it. */
export interface ChangeStreamEngine {
  /** Appends committed writes to the oplog (one cluster time for the batch; txn events share it), wakes waiting cursors. */
  record(events: WriteEvent[]): Timestamp;
  /** Opens a cursor and returns its first batch. Throws MongoServerError (260, 280, 286, 40573, ...). */
  open(request: OpenChangeStream): { cursor: ChangeStreamCursor; firstBatch: ChangeStreamBatch };
  /** The latest cluster time (for operationTime / $clusterTime in every reply). */
  clusterTime(): Timestamp;
  /** Drops all retained oplog entries (for history-lost tests). */
  truncate(): void;
  /** The retained oplog as `local.oplog.rs` documents, oldest first (mongod's capped collection). */
  oplogDocuments?(): Document[];
}
