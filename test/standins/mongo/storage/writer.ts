/**
 * One command's access to the data: committed data, or the transaction's view inside a
 * transaction. Every write goes through here and leaves a WriteEvent: outside a transaction in
 * `events` (recorded when the command completes), inside one in the transaction (recorded at commit).
 */
import type { Document, Long } from 'bson';
import type { WriteEvent } from '../contract';
import { ErrorCodes, serverError } from '../errors';
import { idKeyOf, type Collection, type DataView } from './collection';
import type { Store } from './store';
import type { Transaction } from './transaction';

/** The transaction a command runs in, with the session identity its events carry. */
export interface TransactionScope {
  txn: Transaction;
  lsid: Document;
  txnNumber: Long;
}

export class Writer {
  /** Events to record when the command completes (DDL always lands here, also inside a transaction). */
  readonly events: WriteEvent[] = [];

  constructor(
    readonly store: Store,
    private readonly scope?: TransactionScope,
  ) {}

  get inTransaction(): boolean {
    return this.scope !== undefined;
  }

  /** The documents a command reads: its transaction's view, or the committed data. */
  data(collection: Collection): DataView {
    return this.scope ? this.scope.txn.dataFor(collection) : collection.data;
  }

  /** The collection to write to; created implicitly (with its create event) on first write. */
  target(db: string, name: string): Collection {
    const existing = this.store.collection(db, name);
    if (existing?.isView) {
      throw serverError(
        ErrorCodes.CommandNotSupportedOnView,
        `Namespace ${existing.ns} is a view, not a collection`,
      );
    }
    if (existing) return existing;
    const { collection, events } = this.store.create(db, name);
    this.events.push(...events);
    return collection;
  }

  /** Reports DDL events (create, drop, rename, indexes, collMod). */
  ddl(events: WriteEvent[]): void {
    this.events.push(...events);
  }

  insert(collection: Collection, doc: Document): void {
    this.touch(collection, doc);
    this.data(collection).insert(doc);
    this.emit(collection, { op: 'insert', documentKey: { _id: doc._id }, after: doc });
  }

  /** Replaces a document by its new version; `update` is the operator document or pipeline (absent for a replacement). */
  update(collection: Collection, before: Document, after: Document, update?: Document | Document[]): void {
    this.touch(collection, before);
    this.data(collection).replace(before, after);
    this.emit(collection, {
      op: update ? 'update' : 'replace',
      documentKey: { _id: before._id },
      before,
      after,
      ...(update ? { update } : {}),
    });
  }

  delete(collection: Collection, doc: Document): void {
    this.touch(collection, doc);
    this.data(collection).remove(doc);
    this.emit(collection, { op: 'delete', documentKey: { _id: doc._id }, before: doc });
  }

  private touch(collection: Collection, doc: Document): void {
    this.scope?.txn.touch(collection, idKeyOf(doc));
  }

  private emit(collection: Collection, event: Omit<WriteEvent, 'db' | 'coll' | 'collectionUUID'>): void {
    const full: WriteEvent = {
      db: collection.db,
      coll: collection.name,
      collectionUUID: collection.uuid,
      ...event,
    };
    if (this.scope) {
      this.scope.txn.events.push({ ...full, lsid: this.scope.lsid, txnNumber: this.scope.txnNumber });
    } else this.events.push(full);
  }
}
