/**
 * A collection: metadata (UUID, options) and its data (documents in natural order, indexes).
 * Stored documents are immutable: a write replaces the object, so a transaction's copy of the
 * data can share them and detect conflicts by identity.
 */
import { UUID, type Binary, type Document } from 'bson';
import { ErrorCodes, serverError } from '../errors';
import {
  duplicateKeyError,
  ID_INDEX_NAME,
  ID_INDEX_SPEC,
  Index,
  sameIndexOptions,
  type IndexSpec,
} from './indexes';
import { isOperatorObject, keyOf } from './values';

/** The key of a document in its collection (its `_id`, compared as mongod does). */
export const idKeyOf = (doc: Document): string => keyOf(doc._id);

/** Documents and indexes of one collection; committed data or a transaction's copy of it. */
export class CollectionData {
  constructor(
    /** "db.coll", for error messages. */
    public ns: string,
    readonly docs = new Map<string, Document>(),
    readonly indexes: Index[] = [new Index(ID_INDEX_SPEC)],
  ) {}

  clone(): CollectionData {
    return new CollectionData(
      this.ns,
      new Map(this.docs),
      this.indexes.map((index) => index.clone()),
    );
  }

  get(idKey: string): Document | undefined {
    return this.docs.get(idKey);
  }

  /**
   * The documents a filter may match, in natural order: only the one with that `_id` when the
   * filter names an `_id` by equality (the `_id` index), else all. Callers still apply the filter.
   */
  candidates(filter: Document | undefined): Document[] {
    const id = filter?._id;
    if (id === undefined || isOperatorObject(id) || id instanceof RegExp) return [...this.docs.values()];
    const doc = this.docs.get(keyOf(id));
    return doc ? [doc] : [];
  }

  /** Adds a document; throws DuplicateKey (11000) and changes nothing on a conflict. */
  insert(doc: Document): void {
    const idKey = idKeyOf(doc);
    if (this.docs.has(idKey)) throw duplicateKeyError(this.ns, ID_INDEX_SPEC, { _id: doc._id });
    for (const index of this.indexes) index.check(this.ns, doc, idKey);
    for (const index of this.indexes) index.add(doc, idKey);
    this.docs.set(idKey, doc);
  }

  /** Replaces a stored document by a new version with the same `_id`. */
  replace(before: Document, after: Document): void {
    const idKey = idKeyOf(before);
    for (const index of this.indexes) index.check(this.ns, after, idKey);
    for (const index of this.indexes) index.remove(before, idKey);
    for (const index of this.indexes) index.add(after, idKey);
    this.docs.set(idKey, after);
  }

  remove(doc: Document): void {
    const idKey = idKeyOf(doc);
    for (const index of this.indexes) index.remove(doc, idKey);
    this.docs.delete(idKey);
  }

  /**
   * Applies a set of document changes at once (a transaction's commit): unique keys are checked
   * after all old versions left the indexes, and surviving documents keep their position.
   * Throws DuplicateKey on a conflict, leaving this data half-changed: apply to a clone.
   */
  applyChanges(changes: Array<{ idKey: string; before?: Document; after?: Document }>): void {
    for (const { idKey, before } of changes)
      if (before) for (const index of this.indexes) index.remove(before, idKey);
    for (const { idKey, before, after } of changes) {
      if (!after) continue;
      if (!before && this.docs.has(idKey)) {
        throw duplicateKeyError(this.ns, ID_INDEX_SPEC, { _id: after._id });
      }
      for (const index of this.indexes) index.check(this.ns, after, idKey);
      for (const index of this.indexes) index.add(after, idKey);
    }
    for (const { idKey, after } of changes) {
      if (after) this.docs.set(idKey, after);
      else this.docs.delete(idKey);
    }
  }

  findIndex(name: string): Index | undefined {
    return this.indexes.find((index) => index.name === name);
  }

  /**
   * Adds an index, building it over the existing documents. Returns false when an identical index
   * exists; throws on a conflicting one or when existing documents violate a unique index.
   */
  addIndex(spec: IndexSpec): boolean {
    const sameName = this.findIndex(spec.name);
    const sameKey = this.indexes.find(
      (index) => keyOf(index.spec.key) === keyOf(spec.key) && sameIndexOptions(index.spec, spec),
    );
    if (sameName && keyOf(sameName.spec.key) === keyOf(spec.key) && sameIndexOptions(sameName.spec, spec)) {
      return false;
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
    this.indexes.push(index);
    return true;
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
  ) {
    this.data = new CollectionData(this.ns);
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
    const copy = new Collection(db, name, this.options);
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
