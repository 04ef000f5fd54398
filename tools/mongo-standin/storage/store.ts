/**
 * The in-memory databases: collections by namespace and the DDL that changes them. DDL methods
 * return the WriteEvents the caller reports to the change-stream engine. The store is also the
 * engine's ChangeStreamHost.
 */
import type { Document } from 'bson';
import type { ChangeStreamHost, WriteEvent } from '../change-streams/contract';
import { ErrorCodes, serverError } from '../errors/server-error';
import { Collection, type CollectionOptions } from './collection';
import { ID_INDEX_SPEC } from './indexes';
import { WriteLocks } from './locks';
import { VersionClock } from './snapshot';
import { keyOf } from './values';

/** A namespace as a pair. */
export interface Namespace {
  db: string;
  coll: string;
}

const INVALID_DB_CHARS = /[/\\. "$\0]/;

/** Throws InvalidNamespace (73) for names mongod refuses. */
export function validateNamespace(db: string, coll?: string): void {
  if (!db || INVALID_DB_CHARS.test(db) || db.length > 63) {
    throw serverError(ErrorCodes.InvalidNamespace, `Invalid database name: '${db}'`);
  }
  if (coll !== undefined && (!coll || coll.includes('$') || coll.includes('\0') || coll.startsWith('.'))) {
    throw serverError(ErrorCodes.InvalidNamespace, `Invalid collection name: ${db}.${coll}`);
  }
}

/** An existing collection for a create with `options`: itself when identical, else NamespaceExists (48). */
export function sameCollection(existing: Collection, options: CollectionOptions): Collection {
  if (keyOf(existing.options) === keyOf(options)) return existing;
  throw serverError(ErrorCodes.NamespaceExists, `Collection ${existing.ns} already exists.`);
}

/** The event of a created collection (or view). */
export function createEvent(collection: Collection): WriteEvent {
  const { db, name, options } = collection;
  const operationDescription = options.viewOn
    ? { viewOn: options.viewOn, pipeline: options.pipeline ?? [] }
    : { idIndex: ID_INDEX_SPEC, ...options };
  return { op: 'create', db, coll: name, collectionUUID: collection.uuid, operationDescription };
}

export class Store implements ChangeStreamHost {
  /** One version counter for all collections: a transaction's snapshot spans them. */
  readonly clock = new VersionClock();
  /** What open transactions wrote (documents, unique keys, namespaces they create). */
  readonly locks = new WriteLocks();
  private readonly databases = new Map<string, Map<string, Collection>>();

  collection(db: string, name: string): Collection | undefined {
    return this.databases.get(db)?.get(name);
  }

  collectionsOf(db: string): Collection[] {
    return [...(this.databases.get(db)?.values() ?? [])];
  }

  databaseNames(): string[] {
    return [...this.databases.keys()];
  }

  /** Creates a collection (or view). Throws NamespaceExists (48) unless an identical one exists. */
  create(
    db: string,
    name: string,
    options: CollectionOptions = {},
  ): { collection: Collection; events: WriteEvent[] } {
    validateNamespace(db, name);
    const existing = this.collection(db, name);
    if (existing) return { collection: sameCollection(existing, options), events: [] };
    const collection = new Collection(db, name, options, this.clock);
    this.attach(collection);
    return { collection, events: [createEvent(collection)] };
  }

  /** Drops a collection; no event when it does not exist (mongod 7 answers ok either way). */
  drop(db: string, name: string): WriteEvent[] {
    const collection = this.collection(db, name);
    if (!collection) return [];
    this.detach(collection);
    return [{ op: 'drop', db, coll: name, collectionUUID: collection.uuid }];
  }

  /** Drops every collection of a database, then the database. */
  dropDatabase(db: string): WriteEvent[] {
    const events = this.collectionsOf(db).flatMap((collection) => this.drop(db, collection.name));
    this.databases.delete(db);
    return [...events, { op: 'dropDatabase', db }];
  }

  /** Renames a collection (keeping its UUID within a database). */
  rename(from: Namespace, to: Namespace, dropTarget: boolean): WriteEvent[] {
    validateNamespace(to.db, to.coll);
    const source = this.collection(from.db, from.coll);
    if (!source) {
      throw serverError(
        ErrorCodes.NamespaceNotFound,
        `Source collection ${from.db}.${from.coll} does not exist`,
      );
    }
    if (from.db === to.db && from.coll === to.coll) {
      throw serverError(ErrorCodes.IllegalOperation, "Can't rename a collection to itself");
    }
    const target = this.collection(to.db, to.coll);
    if (target && !dropTarget) throw serverError(ErrorCodes.NamespaceExists, 'target namespace exists');
    // NOTE: mongod folds a dropped target into the rename event (operationDescription.dropTarget).
    if (target) this.detach(target);
    this.detach(source);
    const renamed = from.db === to.db ? source : source.copyTo(to.db, to.coll);
    renamed.renameTo(to.db, to.coll);
    this.attach(renamed);
    return [
      {
        op: 'rename',
        db: from.db,
        coll: from.coll,
        collectionUUID: source.uuid,
        to: { ...to },
        operationDescription: {
          to: { db: to.db, coll: to.coll },
          ...(target ? { dropTarget: target.uuid } : {}),
        },
      },
    ];
  }

  findByKey(db: string, coll: string, documentKey: Document): Document | null {
    return this.collection(db, coll)?.data.get(keyOf(documentKey._id)) ?? null;
  }

  collectionInfo(db: string, coll: string) {
    const collection = this.collection(db, coll);
    return collection
      ? { uuid: collection.uuid, changeStreamPreAndPostImages: collection.changeStreamPreAndPostImages }
      : null;
  }

  /** Adds a collection under its namespace (a new one, or one a transaction created, at commit). */
  attach(collection: Collection): void {
    let database = this.databases.get(collection.db);
    if (!database) this.databases.set(collection.db, (database = new Map()));
    database.set(collection.name, collection);
  }

  private detach(collection: Collection): void {
    const database = this.databases.get(collection.db);
    database?.delete(collection.name);
    if (database && !database.size) this.databases.delete(collection.db);
  }
}
