/**
 * One collection as a transaction sees it: the committed data as of the transaction's snapshot
 * plus its own writes (applied to the committed data at commit). Nothing is copied: the data keeps
 * the versions later changes replace while the snapshot is open.
 */
import type { Document } from 'bson';
import { documentsOf, idKeysOf, idKeyOf, type CollectionData, type DataView } from './collection';
import { duplicateKeyError, ID_INDEX_SPEC, type Index } from './indexes';

export class SnapshotView implements DataView {
  /** The transaction's writes by `_id` key, in order of first write (undefined: deleted). */
  readonly writes = new Map<string, Document | undefined>();
  /** Per unique index, the keys the writes gave to a document (its `_id` key) or took away (null). */
  private readonly keys = new Map<Index, Map<string, string | null>>();

  constructor(
    readonly base: CollectionData,
    /** The snapshot's version (see VersionClock). */
    private readonly version: number,
  ) {}

  get ns(): string {
    return this.base.ns;
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

  /**
   * True when writing `after` to the document `idKey` touches what a commit changed after the
   * snapshot: the document itself, or a unique key of `after` now held by another document than
   * in the snapshot. mongod (WiredTiger) fails such a write with a WriteConflict.
   */
  changedSinceSnapshot(idKey: string, after: Document | undefined): boolean {
    if (this.base.changedAfter(idKey, this.version)) return true;
    if (!after) return false;
    return this.base.indexes.some(
      (index) =>
        index.unique &&
        index.keysOf(after).some(({ key }) => this.snapshotHolderOf(index, key) !== index.holderOf(key)),
    );
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
    return this.snapshotHolderOf(index, key);
  }

  /** The document holding a unique key in the committed data as of the snapshot. */
  private snapshotHolderOf(index: Index, key: string): string | undefined {
    // NOTE: a key held now by a document unchanged since the snapshot was held by it then; one
    // held then by a document changed since is found among those changes.
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
