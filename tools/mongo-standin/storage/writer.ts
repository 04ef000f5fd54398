/**
 * One command's access to the data: committed data, or the transaction's view inside a
 * transaction. Every write goes through here and leaves a WriteEvent: outside a transaction in
 * `events` (recorded when the command completes), inside one in the transaction (recorded at
 * commit). A write outside a transaction to what an open transaction wrote throws WriteBlocked
 * (the command waits for that transaction, then runs the write again, as mongod does).
 */
import type { Document, Long } from 'bson';
import type { WriteEvent } from '../change-streams/contract';
import { ErrorCodes, serverError } from '../errors/server-error';
import { idKeyOf, type Collection, type CollectionOptions, type DataView } from './collection';
import { documentResources, namespaceResource } from './locks';
import { createEvent, sameCollection, validateNamespace, type Store } from './store';
import type { Transaction } from './transaction';

/** The transaction a command runs in, with the session identity its events carry. */
export interface TransactionScope {
  txn: Transaction;
  lsid: Document;
  txnNumber: Long;
}

export class Writer {
  /** Events to record when the command completes (outside a transaction). */
  readonly events: WriteEvent[] = [];

  constructor(
    readonly store: Store,
    private readonly scope?: TransactionScope,
  ) {
    scope?.txn.begin(store);
  }

  get inTransaction(): boolean {
    return this.scope !== undefined;
  }

  /** A collection as the command sees it: one its transaction created, else a committed one. */
  collection(db: string, name: string): Collection | undefined {
    return this.scope?.txn.createdCollection(db, name) ?? this.store.collection(db, name);
  }

  /** The documents a command reads: its transaction's view, or the committed data. */
  data(collection: Collection): DataView {
    return this.scope ? this.scope.txn.dataFor(collection) : collection.data;
  }

  /** The collection to write to; created implicitly (with its create event) on first write. */
  target(db: string, name: string): Collection {
    const existing = this.collection(db, name);
    if (existing?.isView) {
      throw serverError(
        ErrorCodes.CommandNotSupportedOnView,
        `Namespace ${existing.ns} is a view, not a collection`,
      );
    }
    return existing ?? this.createCollection(db, name, {});
  }

  /**
   * Creates a collection (create, createIndexes or a first write). Inside a transaction it exists
   * only there until commit; outside one it waits while a transaction creates the same namespace.
   */
  createCollection(db: string, name: string, options: CollectionOptions): Collection {
    validateNamespace(db, name);
    const existing = this.collection(db, name);
    if (existing) return sameCollection(existing, options);
    if (this.scope) {
      const collection = this.scope.txn.createCollection(db, name, options);
      this.emit(createEvent(collection));
      return collection;
    }
    this.store.locks.checkUnheld([namespaceResource(db, name)]);
    const { collection, events } = this.store.create(db, name, options);
    this.events.push(...events);
    return collection;
  }

  /** Reports DDL events (drop, rename, indexes, collMod). */
  ddl(events: WriteEvent[]): void {
    for (const event of events) this.emit(event);
  }

  insert(collection: Collection, doc: Document): void {
    this.claim(collection, undefined, doc);
    this.data(collection).insert(doc);
    this.emit(documentEvent(collection, { op: 'insert', documentKey: { _id: doc._id }, after: doc }));
  }

  /** Replaces a document by its new version; `update` is the operator document or pipeline (absent for a replacement). */
  update(collection: Collection, before: Document, after: Document, update?: Document | Document[]): void {
    this.claim(collection, before, after);
    this.data(collection).replace(before, after);
    this.emit(
      documentEvent(collection, {
        op: update ? 'update' : 'replace',
        documentKey: { _id: before._id },
        before,
        after,
        ...(update ? { update } : {}),
      }),
    );
  }

  delete(collection: Collection, doc: Document): void {
    this.claim(collection, doc, undefined);
    this.data(collection).remove(doc);
    this.emit(documentEvent(collection, { op: 'delete', documentKey: { _id: doc._id }, before: doc }));
  }

  /** Inside a transaction, locks what the write touches (or WriteConflict); outside, WriteBlocked while a transaction holds it. */
  private claim(collection: Collection, before: Document | undefined, after: Document | undefined): void {
    const idKey = idKeyOf((before ?? after)!);
    if (this.scope) this.scope.txn.claimWrite(collection, idKey, before, after);
    else this.store.locks.checkUnheld(documentResources(collection, idKey, before, after));
  }

  private emit(event: WriteEvent): void {
    if (this.scope) {
      this.scope.txn.events.push({ ...event, lsid: this.scope.lsid, txnNumber: this.scope.txnNumber });
    } else this.events.push(event);
  }
}

const documentEvent = (
  collection: Collection,
  event: Omit<WriteEvent, 'db' | 'coll' | 'collectionUUID'>,
): WriteEvent => ({ db: collection.db, coll: collection.name, collectionUUID: collection.uuid, ...event });
