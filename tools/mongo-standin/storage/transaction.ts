/**
 * A multi-document transaction as mongod 7.0 runs it: one snapshot of all collections, taken at
 * its first statement; its writes stay private (a {@link SnapshotView} per collection) and are
 * applied atomically at commit. A write conflict fails the write itself (see locks.ts): writing a
 * document or unique key another open transaction wrote, or one a commit changed after the
 * snapshot. Collections it creates (explicitly, by createIndexes or by a first insert) exist only
 * inside it until commit.
 */
import type { Document } from 'bson';
import type { WriteEvent } from '../change-streams/contract';
import { Collection, type CollectionOptions, type DataView } from './collection';
import type { DocumentChange } from './indexes';
import { documentResources, namespaceResource, writeConflict, type LockOwner } from './locks';
import { SnapshotView } from './snapshot-view';
import type { Store } from './store';

export type TransactionState = 'inProgress' | 'committed' | 'aborted';

export class Transaction implements LockOwner {
  state: TransactionState = 'inProgress';
  /** Change events of the transaction's writes (and DDL), in order; recorded at commit. */
  readonly events: WriteEvent[] = [];
  /** When it started (ms since the epoch): mongod aborts a transaction older than its lifetime limit. */
  readonly startedAt = Date.now();
  /** Settles when the transaction commits or aborts. */
  readonly ended: Promise<void>;
  private settle!: () => void;
  private store: Store | undefined;
  private snapshot: number | undefined;
  private readonly views = new Map<Collection, SnapshotView>();
  /** Collections created by the transaction, by namespace: attached to the store at commit. */
  private readonly created = new Map<string, Collection>();
  private readonly held = new Set<string>();

  constructor(readonly txnNumber: number) {
    this.ended = new Promise((resolve) => (this.settle = resolve));
  }

  /** Takes the snapshot at the transaction's first statement (mongod: first read or write). */
  begin(store: Store): void {
    if (this.state !== 'inProgress' || this.snapshot !== undefined) return;
    this.store = store;
    this.snapshot = store.clock.openSnapshot();
  }

  /** A collection the transaction created, if any. */
  createdCollection(db: string, name: string): Collection | undefined {
    return this.created.get(`${db}.${name}`);
  }

  /** Creates a collection visible only to the transaction until commit; WriteConflict if another open transaction creates it. */
  createCollection(db: string, name: string, options: CollectionOptions): Collection {
    const store = this.begun();
    const resource = namespaceResource(db, name);
    if (store.locks.holderOf([resource], this)) throw writeConflict();
    this.lock([resource]);
    const collection = new Collection(db, name, options, store.clock);
    this.created.set(collection.ns, collection);
    return collection;
  }

  /** The transaction's view of a collection's data. */
  dataFor(collection: Collection): DataView {
    return this.viewOf(collection);
  }

  /**
   * Claims a document write before the view applies it: WriteConflict (TransientTransactionError)
   * when another open transaction holds the document or a unique key it touches, or when a
   * commit changed them after the snapshot.
   */
  claimWrite(
    collection: Collection,
    idKey: string,
    before: Document | undefined,
    after: Document | undefined,
  ): void {
    const store = this.begun();
    const resources = documentResources(collection, idKey, before, after);
    if (store.locks.holderOf(resources, this)) throw writeConflict();
    if (this.viewOf(collection).changedSinceSnapshot(idKey, after)) throw writeConflict();
    this.lock(resources);
  }

  /** Applies the transaction's collections and writes to the store, all or nothing. */
  commit(store: Store): void {
    for (const collection of this.created.values()) {
      if (store.collection(collection.db, collection.name)) throw writeConflict();
    }
    const staged = [...this.views].map(([collection, view]) => {
      const live = store.collection(collection.db, collection.name);
      if (live !== collection && !this.created.has(collection.ns)) throw writeConflict();
      const changes: DocumentChange[] = [...view.writes].map(([idKey, after]) => {
        // NOTE: the locks make this hold; checked again as mongod's commit would never apply a lost update.
        const before = view.original(idKey);
        if (collection.data.get(idKey) !== before) throw writeConflict();
        return { idKey, before, after };
      });
      return { data: collection.data, changes };
    });
    for (const { data, changes } of staged) {
      try {
        data.checkChanges(changes);
      } catch {
        throw writeConflict();
      }
    }
    for (const collection of this.created.values()) store.attach(collection);
    for (const { data, changes } of staged) data.applyChanges(changes);
    this.state = 'committed';
    this.release();
  }

  abort(): void {
    if (this.state === 'inProgress') this.state = 'aborted';
    this.release();
  }

  private begun(): Store {
    if (!this.store) throw new Error('transaction used before begin(store)');
    return this.store;
  }

  private lock(resources: readonly string[]): void {
    this.store!.locks.acquire(this, resources);
    for (const resource of resources) this.held.add(resource);
  }

  private release(): void {
    this.views.clear();
    this.created.clear();
    if (this.store) {
      this.store.locks.release(this, this.held);
      if (this.snapshot !== undefined) this.store.clock.closeSnapshot(this.snapshot);
    }
    this.held.clear();
    this.snapshot = undefined;
    this.settle();
  }

  private viewOf(collection: Collection): SnapshotView {
    let view = this.views.get(collection);
    if (!view) {
      this.begun();
      this.views.set(collection, (view = new SnapshotView(collection.data, this.snapshot!)));
    }
    return view;
  }
}
