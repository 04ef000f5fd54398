/**
 * A collection: metadata (UUID, options) and its data (documents in natural order, indexes).
 * Stored documents are immutable: a write replaces the object, so a transaction's view of the
 * data can share them and detect conflicts by identity. While a transaction's snapshot is open,
 * the data keeps the versions its later changes replaced (per document, dropped when no open
 * snapshot needs them), so a snapshot costs nothing up front and nothing is copied per transaction.
 */
import { UUID, type Binary, type Document } from 'bson';
import { ErrorCodes, serverError } from '../errors/server-error';
import {
  duplicateKeyError,
  ID_INDEX_NAME,
  ID_INDEX_SPEC,
  Index,
  sameIndexOptions,
  type DocumentChange,
  type IndexSpec,
} from './indexes';
import { DocumentHistory, VersionClock } from './snapshot';
import { isOperatorObject, keyOf } from './values';

/** The key of a document in its collection (its `_id`, compared as mongod does). */
export const idKeyOf = (doc: Document): string => keyOf(doc._id);

/** What a command reads and writes: a collection's committed data, or a transaction's view of it. */
export interface DataView {
  /** "db.coll", for error messages. */
  readonly ns: string;
  /** Every document, in natural order. */
  readonly docs: ReadonlyMap<string, Document>;
  get(idKey: string): Document | undefined;
  /**
   * The documents a filter may match, in natural order: only the one with that `_id` when the
   * filter names an `_id` by equality (the `_id` index), else all. Callers still apply the filter.
   */
  candidates(filter: Document | undefined): Document[];
  /** Adds a document; throws DuplicateKey (11000) and changes nothing on a conflict. */
  insert(doc: Document): void;
  /** Replaces a stored document by a new version with the same `_id`. */
  replace(before: Document, after: Document): void;
  remove(doc: Document): void;
}

/**
 * The `_id` keys a filter names by equality or by `$in` (the `_id` index can answer it, as
 * mongod's IXSCAN would), else undefined: every document is a candidate. The filter itself is
 * still matched against each candidate.
 */
export function idKeysOf(filter: Document | undefined): string[] | undefined {
  const id = filter?._id;
  if (id === undefined || id instanceof RegExp) return undefined;
  if (!isOperatorObject(id)) return [keyOf(id)];
  const operators = Object.keys(id as Document);
  const values = (id as Document).$in;
  if (operators.length !== 1 || !Array.isArray(values)) return undefined;
  if (values.some((v) => v instanceof RegExp || isOperatorObject(v))) return undefined;
  return [...new Set(values.map((v) => keyOf(v)))];
}

/** The documents of `keys` that `get` finds, in the order of the keys. */
export function documentsOf(
  keys: readonly string[],
  get: (idKey: string) => Document | undefined,
): Document[] {
  const docs: Document[] = [];
  for (const key of keys) {
    const doc = get(key);
    if (doc) docs.push(doc);
  }
  return docs;
}

/** Documents and indexes of one collection: its committed data. */
export class CollectionData implements DataView {
  /** Versions replaced while a snapshot was open. */
  private readonly history = new DocumentHistory();

  constructor(
    /** "db.coll", for error messages. */
    public ns: string,
    /** The store's version counter (shared by all its collections: one snapshot spans them). */
    readonly clock: VersionClock = new VersionClock(),
    readonly docs = new Map<string, Document>(),
    readonly indexes: Index[] = [new Index(ID_INDEX_SPEC)],
  ) {}

  /** A copy (documents shared) without history: a new committed data of the collection. */
  clone(): CollectionData {
    return new CollectionData(
      this.ns,
      this.clock,
      new Map(this.docs),
      this.indexes.map((index) => index.clone()),
    );
  }

  get(idKey: string): Document | undefined {
    return this.docs.get(idKey);
  }

  candidates(filter: Document | undefined): Document[] {
    const keys = idKeysOf(filter);
    return keys ? documentsOf(keys, (key) => this.docs.get(key)) : [...this.docs.values()];
  }

  insert(doc: Document): void {
    const idKey = idKeyOf(doc);
    if (this.docs.has(idKey)) throw duplicateKeyError(this.ns, ID_INDEX_SPEC, { _id: doc._id });
    for (const index of this.indexes) index.check(this.ns, doc, idKey);
    this.changing(idKey);
    for (const index of this.indexes) index.add(doc, idKey);
    this.docs.set(idKey, doc);
  }

  replace(before: Document, after: Document): void {
    const idKey = idKeyOf(before);
    for (const index of this.indexes) index.check(this.ns, after, idKey);
    this.changing(idKey);
    for (const index of this.indexes) index.remove(before, idKey);
    for (const index of this.indexes) index.add(after, idKey);
    this.docs.set(idKey, after);
  }

  remove(doc: Document): void {
    const idKey = idKeyOf(doc);
    this.changing(idKey);
    for (const index of this.indexes) index.remove(doc, idKey);
    this.docs.delete(idKey);
  }

  /**
   * Throws DuplicateKey when {@link applyChanges} would fail on these changes (an `_id` or a
   * unique key given to two documents). Changes nothing.
   */
  checkChanges(changes: ReadonlyArray<DocumentChange>): void {
    for (const { idKey, before, after } of changes) {
      if (after && !before && this.docs.has(idKey)) {
        throw duplicateKeyError(this.ns, ID_INDEX_SPEC, { _id: after._id });
      }
    }
    for (const index of this.indexes) index.checkChanges(this.ns, changes);
  }

  /**
   * Applies a set of document changes at once (a transaction's commit): unique keys are checked
   * after all old versions left the indexes, and surviving documents keep their position.
   * Checks first ({@link checkChanges}): on a conflict it throws DuplicateKey and changes nothing.
   */
  applyChanges(changes: ReadonlyArray<DocumentChange>): void {
    this.checkChanges(changes);
    for (const { idKey } of changes) this.changing(idKey);
    for (const { idKey, before } of changes)
      if (before) for (const index of this.indexes) index.remove(before, idKey);
    for (const { idKey, after } of changes)
      if (after) for (const index of this.indexes) index.add(after, idKey);
    for (const { idKey, after } of changes) {
      if (after) this.docs.set(idKey, after);
      else this.docs.delete(idKey);
    }
  }

  /** A document as the snapshot at `version` sees it. */
  at(idKey: string, version: number): Document | undefined {
    return this.history.at(idKey, version, this.docs.get(idKey));
  }

  /** True when the document changed after the snapshot at `version`. */
  changedAfter(idKey: string, version: number): boolean {
    return this.history.changedAfter(idKey, version);
  }

  /** The `_id` keys of the documents changed after the snapshot at `version` (repeats possible). */
  changedSince(version: number): Iterable<string> {
    return this.history.changedSince(version);
  }

  /** Every document as the snapshot at `version` sees it: natural order, those deleted since last. */
  *snapshotDocs(version: number): Iterable<[string, Document]> {
    if (this.history.isEmpty) {
      yield* this.docs;
      return;
    }
    for (const [idKey, doc] of this.docs) {
      const seen = this.history.has(idKey) ? this.at(idKey, version) : doc;
      if (seen) yield [idKey, seen];
    }
    for (const idKey of this.history.keys()) {
      if (this.docs.has(idKey)) continue;
      const seen = this.at(idKey, version);
      if (seen) yield [idKey, seen];
    }
  }

  /** Numbers a change of a document (call before it); keeps its old version while a snapshot is open. */
  private changing(idKey: string): void {
    const { version, keep } = this.clock.tick(this.history);
    if (keep) this.history.record(version, idKey, this.docs.get(idKey));
  }

  findIndex(name: string): Index | undefined {
    return this.indexes.find((index) => index.name === name);
  }

  /** Adds an index (see {@link addIndexes}); false when an identical index exists. */
  addIndex(spec: IndexSpec): boolean {
    return this.addIndexes([spec]).length > 0;
  }

  /**
   * Adds indexes, built over the existing documents, all or none (mongod builds a createIndexes
   * batch together). Returns the specs created (identical existing ones are skipped); throws on a
   * conflicting index or when existing documents violate a unique index.
   */
  addIndexes(specs: readonly IndexSpec[]): IndexSpec[] {
    const built: Index[] = [];
    for (const spec of specs) {
      const index = this.buildIndex(spec, [...this.indexes, ...built]);
      if (index) built.push(index);
    }
    this.indexes.push(...built);
    return built.map((index) => index.spec);
  }

  /** A new index over the documents; undefined when `among` has an identical one. */
  private buildIndex(spec: IndexSpec, among: readonly Index[]): Index | undefined {
    const sameName = among.find((index) => index.name === spec.name);
    const sameKey = among.find(
      (index) => keyOf(index.spec.key) === keyOf(spec.key) && sameIndexOptions(index.spec, spec),
    );
    if (sameName && keyOf(sameName.spec.key) === keyOf(spec.key) && sameIndexOptions(sameName.spec, spec)) {
      return undefined;
    }
    if (sameName) {
      throw serverError(
        ErrorCodes.IndexKeySpecsConflict,
        `An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: ${JSON.stringify(spec)}, existing index: ${JSON.stringify(sameName.spec)}`,
      );
    }
    if (sameKey) {
      throw serverError(
        ErrorCodes.IndexOptionsConflict,
        `Index already exists with a different name: ${sameKey.name}`,
      );
    }
    const index = new Index(spec);
    for (const [idKey, doc] of this.docs) {
      index.check(this.ns, doc, idKey);
      index.add(doc, idKey);
    }
    return index;
  }

  /** Removes an index by name; the `_id` index cannot be dropped. */
  dropIndex(name: string): IndexSpec {
    if (name === ID_INDEX_NAME) throw serverError(ErrorCodes.InvalidOptions, 'cannot drop _id index');
    const position = this.indexes.findIndex((index) => index.name === name);
    if (position < 0) throw serverError(ErrorCodes.IndexNotFound, `index not found with name [${name}]`);
    return this.indexes.splice(position, 1)[0].spec;
  }
}

/** Options a collection was created with, as listCollections shows them. */
export type CollectionOptions = Document & { changeStreamPreAndPostImages?: { enabled: boolean } };

/** A collection's identity and metadata; `data` holds its committed contents. */
export class Collection {
  readonly uuid: Binary = new UUID();
  data: CollectionData;

  constructor(
    public db: string,
    public name: string,
    public options: CollectionOptions = {},
    clock?: VersionClock,
  ) {
    this.data = new CollectionData(this.ns, clock);
  }

  get ns(): string {
    return `${this.db}.${this.name}`;
  }

  get changeStreamPreAndPostImages(): boolean {
    return this.options.changeStreamPreAndPostImages?.enabled === true;
  }

  /** Moves the collection to a new namespace (renameCollection keeps the UUID within a database). */
  renameTo(db: string, name: string): void {
    this.db = db;
    this.name = name;
    this.data.ns = this.ns;
  }

  /** A copy with a new UUID in another database (cross-database renameCollection). */
  copyTo(db: string, name: string): Collection {
    const copy = new Collection(db, name, this.options, this.data.clock);
    copy.data = this.data.clone();
    copy.data.ns = copy.ns;
    return copy;
  }

  /** A view (created with `viewOn`): read through its pipeline, never written. */
  get isView(): boolean {
    return typeof this.options.viewOn === 'string';
  }

  /** The listCollections entry. */
  describe(): Document {
    if (this.isView) {
      return { name: this.name, type: 'view', options: this.options, info: { readOnly: true } };
    }
    return {
      name: this.name,
      type: 'collection',
      options: this.options,
      info: { readOnly: false, uuid: this.uuid },
      idIndex: ID_INDEX_SPEC,
    };
  }
}
