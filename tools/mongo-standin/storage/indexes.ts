/**
 * Index specifications and unique-key enforcement. Only unique indexes keep entries (the stand-in
 * scans for queries); the `_id` index is enforced by the collection's document map.
 */
import type { Document } from 'bson';
import { ErrorCodes, MongoServerError, serverError } from '../errors/server-error';
import { parseCollation, standInRefusal } from './collation';
import { compileFilter } from './query';
import { formatDocument, getPath, keyOf, valuesAtPath } from './values';

/** An index as listIndexes shows it. */
export interface IndexSpec extends Document {
  v: 2;
  key: Document;
  name: string;
  unique?: boolean;
  sparse?: boolean;
  partialFilterExpression?: Document;
  expireAfterSeconds?: number;
}

export const ID_INDEX_NAME = '_id_';
export const ID_INDEX_SPEC: IndexSpec = Object.freeze({
  v: 2,
  key: { _id: 1 },
  name: ID_INDEX_NAME,
}) as IndexSpec;

/** Options that make two specs on the same key different indexes (mongod compares these). */
const COMPARED_OPTIONS = ['unique', 'sparse', 'partialFilterExpression', 'expireAfterSeconds', 'collation'];
/** Options createIndexes accepts; anything else is refused so typos surface. */
const ACCEPTED_OPTIONS = new Set([
  'key',
  'name',
  'v',
  'background',
  'hidden',
  'storageEngine',
  'weights',
  'default_language',
  'language_override',
  'textIndexVersion',
  '2dsphereIndexVersion',
  'bits',
  'min',
  'max',
  'wildcardProjection',
  'ns',
  ...COMPARED_OPTIONS,
]);

/** mongod's default index name: `a_1_b_-1`. */
export const defaultIndexName = (key: Document) =>
  Object.entries(key)
    .map(([field, direction]) => `${field}_${direction}`)
    .join('_');

/** Validates one entry of createIndexes' `indexes` and returns it in listIndexes form. */
export function normaliseIndexSpec(raw: unknown): IndexSpec {
  if (!raw || typeof raw !== 'object') {
    throw serverError(ErrorCodes.TypeMismatch, 'index specification must be an object');
  }
  const spec = raw as Document;
  if (!spec.key || typeof spec.key !== 'object' || !Object.keys(spec.key).length) {
    throw serverError(
      ErrorCodes.CannotCreateIndex,
      `Index key pattern must be a non-empty object: ${formatDocument(spec)}`,
    );
  }
  const unknown = Object.keys(spec).find((option) => !ACCEPTED_OPTIONS.has(option));
  if (unknown) {
    throw serverError(
      ErrorCodes.InvalidOptions,
      `The field '${unknown}' is not valid for an index specification. Specification: ${formatDocument(spec)}`,
    );
  }
  if (spec.expireAfterSeconds !== undefined && typeof spec.expireAfterSeconds !== 'number') {
    throw serverError(ErrorCodes.CannotCreateIndex, "TTL index 'expireAfterSeconds' option must be numeric");
  }
  // A unique index compares keys under its collation; the stand-in's unique keys are binary.
  if (parseCollation(spec.collation) && spec.unique === true) {
    throw standInRefusal('a non-simple collation on a unique index');
  }
  // Build options and the legacy `ns` are accepted and not kept, as mongod does.
  const { v: _v, background: _background, ns: _ns, ...rest } = spec;
  return {
    v: 2,
    key: spec.key,
    name: typeof spec.name === 'string' ? spec.name : defaultIndexName(spec.key),
    ...rest,
  } as IndexSpec;
}

/** True when two specs describe the same index (same key and the options mongod compares). */
export function sameIndexOptions(a: IndexSpec, b: IndexSpec): boolean {
  return COMPARED_OPTIONS.every((option) => comparable(a, option) === comparable(b, option));
}

/** `unique: false` and an absent `unique` are the same index. */
const comparable = (spec: IndexSpec, option: string) =>
  keyOf(spec[option] === false ? undefined : spec[option]);

/** One document's change: its committed version before and after (undefined: absent). */
export interface DocumentChange {
  idKey: string;
  before?: Document;
  after?: Document;
}

/** True when `indexes` has one identical to `spec` (same name, key and options). */
export const indexExists = (indexes: readonly Index[], spec: IndexSpec): boolean =>
  indexes.some(
    (index) =>
      index.name === spec.name &&
      keyOf(index.spec.key) === keyOf(spec.key) &&
      sameIndexOptions(index.spec, spec),
  );

/** One index of a collection; unique indexes map each key to the `_id` key holding it. */
export class Index {
  private readonly entries: Map<string, string> | undefined;
  private readonly inPartialFilter: ((doc: Document) => boolean) | undefined;

  constructor(
    readonly spec: IndexSpec,
    entries?: Map<string, string>,
  ) {
    this.entries = spec.unique ? new Map(entries) : undefined;
    this.inPartialFilter = spec.partialFilterExpression
      ? compileFilter(spec.partialFilterExpression)
      : undefined;
  }

  get name(): string {
    return this.spec.name;
  }

  clone(): Index {
    return new Index(this.spec, this.entries);
  }

  /** Throws DuplicateKey (11000) when the document's keys are held by another document. */
  check(ns: string, doc: Document, idKey: string): void {
    if (!this.entries) return;
    for (const { key, keyValue } of this.keysOf(doc)) {
      const holder = this.entries.get(key);
      if (holder !== undefined && holder !== idKey) throw duplicateKeyError(ns, this.spec, keyValue);
    }
  }

  add(doc: Document, idKey: string): void {
    if (!this.entries) return;
    for (const { key } of this.keysOf(doc)) this.entries.set(key, idKey);
  }

  remove(doc: Document, idKey: string): void {
    if (!this.entries) return;
    for (const { key } of this.keysOf(doc)) if (this.entries.get(key) === idKey) this.entries.delete(key);
  }

  /** True for a unique index (the only kind that keeps entries). */
  get unique(): boolean {
    return this.entries !== undefined;
  }

  /** The `_id` key of the document holding a key of this (unique) index. */
  holderOf(key: string): string | undefined {
    return this.entries?.get(key);
  }

  /**
   * Throws DuplicateKey (11000) when applying all `changes` at once (old versions leave the index
   * first, then the new ones enter) would give a key to two documents. Changes nothing.
   */
  checkChanges(ns: string, changes: ReadonlyArray<DocumentChange>): void {
    if (!this.entries) return;
    const pending = new Map<string, string | null>();
    const holder = (key: string) => (pending.has(key) ? pending.get(key) : this.entries!.get(key));
    for (const { idKey, before } of changes) {
      if (!before) continue;
      for (const { key } of this.keysOf(before)) if (holder(key) === idKey) pending.set(key, null);
    }
    for (const { idKey, after } of changes) {
      if (!after) continue;
      for (const { key, keyValue } of this.keysOf(after)) {
        const current = holder(key);
        if (current !== undefined && current !== null && current !== idKey)
          throw duplicateKeyError(ns, this.spec, keyValue);
        pending.set(key, idKey);
      }
    }
  }

  /** Index keys of a document (several for an array field); none when sparse or partial excludes it. */
  keysOf(doc: Document): Array<{ key: string; keyValue: Document }> {
    const fields = Object.keys(this.spec.key);
    if (this.spec.sparse && fields.every((field) => getPath(doc, field) === undefined)) return [];
    if (this.inPartialFilter && !this.inPartialFilter(doc)) return [];
    let combinations: Array<{ key: string; keyValue: Document }> = [{ key: '', keyValue: {} }];
    for (const field of fields) {
      const values = valuesAtPath(doc, field);
      combinations = combinations.flatMap((combination) =>
        values.map((value) => ({
          key: `${combination.key}|${keyOf(value)}`,
          keyValue: { ...combination.keyValue, [field]: value ?? null },
        })),
      );
    }
    return combinations;
  }
}

/** mongod's E11000 error, with keyPattern and keyValue. */
export function duplicateKeyError(
  ns: string,
  spec: Pick<IndexSpec, 'name' | 'key'>,
  keyValue: Document,
): MongoServerError {
  return serverError(
    ErrorCodes.DuplicateKey,
    `E11000 duplicate key error collection: ${ns} index: ${spec.name} dup key: ${formatDocument(keyValue)}`,
    [],
    { keyPattern: spec.key, keyValue },
  );
}
