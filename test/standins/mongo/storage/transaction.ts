/**
 * A multi-document transaction's private view of the data: for each collection it touches, the
 * committed data as of its first touch (a snapshot: the data keeps the versions later changes
 * replace while the snapshot is open) plus the transaction's own writes, applied atomically at
 * commit. A document changed by someone else since the transaction first touched its collection
 * is a WriteConflict at commit. Nothing is copied: a snapshot costs its own writes only.
 */
import type { Document } from 'bson';
import type { WriteEvent } from '../contract';
import { ErrorCodes, serverError } from '../errors';
import { ErrorLabel } from '../labels';
import {
  documentsOf,
  idKeysOf,
  idKeyOf,
  type Collection,
  type CollectionData,
  type DataView,
} from './collection';
import { duplicateKeyError, ID_INDEX_SPEC, type DocumentChange, type Index } from './indexes';
import type { Store } from './store';

export type TransactionState = 'inProgress' | 'committed' | 'aborted';

/** One collection as a transaction sees it: a snapshot of the committed data plus its own writes. */
export class SnapshotView implements DataView {
  /** The transaction's writes by `_id` key, in order of first write (undefined: deleted). */
  readonly writes = new Map<string, Document | undefined>();
  /** Per unique index, the keys the writes gave to a document (its `_id` key) or took away (null). */
  private readonly keys = new Map<Index, Map<string, string | null>>();
  private readonly version: number;
  private open = true;

  constructor(readonly base: CollectionData) {
    this.version = base.openSnapshot();
  }

  get ns(): string {
    return this.base.ns;
  }

  /** Releases the snapshot (the committed data stops keeping versions for it). */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.base.closeSnapshot(this.version);
  }

  /** The committed version of a document as of the snapshot. */
  original(idKey: string): Document | undefined {
    return this.base.at(idKey, this.version);
  }

  get(idKey: string): Document | undefined {
    return this.writes.has(idKey) ? this.writes.get(idKey) : this.original(idKey);
  }

  get docs(): ReadonlyMap<string, Document> {
    const docs = new Map<string, Document>();
    for (const [idKey, doc] of this.base.snapshotDocs(this.version)) {
      const seen = this.writes.has(idKey) ? this.writes.get(idKey) : doc;
      if (seen) docs.set(idKey, seen);
    }
    for (const [idKey, doc] of this.writes) if (doc && !docs.has(idKey)) docs.set(idKey, doc);
    return docs;
  }

  candidates(filter: Document | undefined): Document[] {
    const keys = idKeysOf(filter);
    return keys ? documentsOf(keys, (key) => this.get(key)) : [...this.docs.values()];
  }

  insert(doc: Document): void {
    const idKey = idKeyOf(doc);
    if (this.get(idKey)) throw duplicateKeyError(this.ns, ID_INDEX_SPEC, { _id: doc._id });
    this.check(doc, idKey);
    this.write(idKey, undefined, doc);
  }

  replace(before: Document, after: Document): void {
    const idKey = idKeyOf(before);
    this.check(after, idKey);
    this.write(idKey, before, after);
  }

  remove(doc: Document): void {
    this.write(idKeyOf(doc), doc, undefined);
  }

  /** Throws DuplicateKey when another document of this view holds one of the unique keys of `doc`. */
  private check(doc: Document, idKey: string): void {
    for (const index of this.base.indexes) {
      if (!index.unique) continue;
      for (const { key, keyValue } of index.keysOf(doc)) {
        const holder = this.holderOf(index, key);
        if (holder !== undefined && holder !== idKey) throw duplicateKeyError(this.ns, index.spec, keyValue);
      }
    }
  }

  /** The document of this view holding a unique key: a write's, else the snapshot's. */
  private holderOf(index: Index, key: string): string | undefined {
    const written = this.keys.get(index)?.get(key);
    if (written !== undefined) return written ?? undefined;
    // NOTE: a key held in the snapshot by a document unchanged since is still held by it now; one
    // held by a document changed since is found among those changes.
    const current = index.holderOf(key);
    if (current !== undefined && !this.base.changedAfter(current, this.version)) return current;
    for (const idKey of this.base.changedSince(this.version)) {
      const doc = this.original(idKey);
      if (doc && index.keysOf(doc).some((entry) => entry.key === key)) return idKey;
    }
    return undefined;
  }

  private write(idKey: string, before: Document | undefined, after: Document | undefined): void {
    for (const index of this.base.indexes) {
      if (!index.unique) continue;
      let keys = this.keys.get(index);
      if (!keys) this.keys.set(index, (keys = new Map()));
      if (before) for (const { key } of index.keysOf(before)) keys.set(key, null);
      if (after) for (const { key } of index.keysOf(after)) keys.set(key, idKey);
    }
    this.writes.set(idKey, after);
  }
}

export class Transaction {
  state: TransactionState = 'inProgress';
  /** Change events of the transaction's writes, in order; recorded at commit. */
  readonly events: WriteEvent[] = [];
  /** When it started (ms since the epoch): mongod aborts a transaction older than its lifetime limit. */
  readonly startedAt = Date.now();
  private readonly views = new Map<Collection, SnapshotView>();

  constructor(readonly txnNumber: number) {}

  /** The transaction's view of a collection's data. */
  dataFor(collection: Collection): DataView {
    return this.viewOf(collection);
  }

  /** Notes that the transaction is about to write a document (its view records the write itself). */
  touch(collection: Collection, _idKey: string): void {
    this.viewOf(collection);
  }

  /**
   * Applies the transaction's writes to the committed data, all or nothing. Throws WriteConflict
   * (TransientTransactionError) when a written document or collection changed meanwhile.
   */
  commit(store: Store): void {
    const staged = [...this.views].map(([collection, view]) => {
      if (store.collection(collection.db, collection.name) !== collection) throw writeConflict();
      const changes: DocumentChange[] = [...view.writes].map(([idKey, after]) => {
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
    for (const { data, changes } of staged) data.applyChanges(changes);
    this.state = 'committed';
    this.release();
  }

  abort(): void {
    if (this.state === 'inProgress') this.state = 'aborted';
    this.release();
  }

  private release(): void {
    for (const view of this.views.values()) view.close();
    this.views.clear();
  }

  private viewOf(collection: Collection): SnapshotView {
    let view = this.views.get(collection);
    if (!view) this.views.set(collection, (view = new SnapshotView(collection.data)));
    return view;
  }
}

const writeConflict = () =>
  serverError(
    ErrorCodes.WriteConflict,
    'Write conflict during plan execution and yielding is disabled. :: Please retry your operation or multi-document transaction.',
    [ErrorLabel.TransientTransactionError],
  );
