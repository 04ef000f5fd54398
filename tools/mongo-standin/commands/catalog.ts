/**
 * Databases, collections and indexes: create, drop, dropDatabase, renameCollection, collMod,
 * listCollections, listDatabases (indexes: indexes.ts). Outside a transaction DDL applies to the
 * committed data at once and reports its change events; in one only create runs (transactional).
 */
import { calculateObjectSize, type Document } from 'bson';
import { cursorReply } from '../services/cursors';
import { ErrorCodes, serverError } from '../errors/server-error';
import type { Collection } from '../storage/collection';
import { refuseDefaultCollation } from '../storage/collation';
import { compileFilter } from '../storage/query';
import { checkValidationOptions } from '../storage/validation';
import type { Namespace } from '../storage/store';
import { keyOf } from '../storage/values';
import { retryWhileBlocked } from './blocking';
import { collectionNameOf, optional, type CommandContext, type CommandTable } from './context';

/** Fields any command may carry that are not command options. */
const GENERIC_FIELDS = new Set([
  '$db',
  'lsid',
  'txnNumber',
  'autocommit',
  'startTransaction',
  '$clusterTime',
  '$readPreference',
  'readConcern',
  'writeConcern',
  'comment',
  'maxTimeMS',
  'apiVersion',
  'apiStrict',
  'apiDeprecationErrors',
]);

const CREATE_OPTIONS = new Set([
  'capped',
  'size',
  'max',
  'autoIndexId',
  'validator',
  'validationLevel',
  'validationAction',
  'changeStreamPreAndPostImages',
  'viewOn',
  'pipeline',
  'collation',
  'storageEngine',
  'indexOptionDefaults',
  'expireAfterSeconds',
  'clusteredIndex',
  'timeseries',
  'idIndex',
  'encryptedFields',
]);

/** The command's options: every field but the command name and generic fields; unknown ones are refused. */
function commandOptions(context: CommandContext, accepted: ReadonlySet<string>): Document {
  const [name, ...fields] = Object.keys(context.command);
  const options: Document = {};
  for (const field of fields) {
    if (GENERIC_FIELDS.has(field)) continue;
    if (!accepted.has(field)) {
      throw serverError(ErrorCodes.Location40415, `BSON field '${name}.${field}' is an unknown field.`);
    }
    options[field] = context.command[field];
  }
  return options;
}

/** The committed collection `name` of the command's database; NamespaceNotFound (26) when absent. */
export function requireCollection(
  context: CommandContext,
  name: string,
  message = `ns does not exist: ${context.db}.${name}`,
): Collection {
  const collection = context.services.store.collection(context.db, name);
  if (!collection) throw serverError(ErrorCodes.NamespaceNotFound, message);
  return collection;
}

/**
 * create. Inside a transaction (mongod 4.4+) the collection exists only there until commit; a view
 * or an existing namespace is refused there. Outside, it waits while a transaction creates the
 * same namespace.
 */
async function create(context: CommandContext): Promise<Document> {
  const options = commandOptions(context, CREATE_OPTIONS);
  checkValidationOptions(options);
  refuseDefaultCollation(options.collation);
  const name = collectionNameOf(context);
  if (options.viewOn !== undefined && typeof options.viewOn !== 'string') {
    throw serverError(ErrorCodes.TypeMismatch, "'viewOn' must be a collection name");
  }
  if (context.txn && options.viewOn !== undefined) {
    throw serverError(
      ErrorCodes.OperationNotSupportedInTransaction,
      'Cannot create a view in a multi-document transaction.',
    );
  }
  if (context.txn && context.writer.collection(context.db, name)) {
    throw serverError(ErrorCodes.NamespaceExists, `Collection ${context.db}.${name} already exists.`);
  }
  await retryWhileBlocked(context, () => context.writer.createCollection(context.db, name, options));
  return { ok: 1 };
}

function drop(context: CommandContext): Document {
  const name = collectionNameOf(context);
  const collection = context.services.store.collection(context.db, name);
  context.writer.ddl(context.services.store.drop(context.db, name));
  return {
    ...(collection ? { nIndexesWas: collection.data.indexes.length } : {}),
    ns: `${context.db}.${name}`,
    ok: 1,
  };
}

function dropDatabase(context: CommandContext): Document {
  context.writer.ddl(context.services.store.dropDatabase(context.db));
  return { dropped: context.db, ok: 1 };
}

function parseNamespace(value: unknown, field: string): Namespace {
  const text = typeof value === 'string' ? value : '';
  const dot = text.indexOf('.');
  if (dot <= 0 || dot === text.length - 1) {
    throw serverError(
      ErrorCodes.InvalidNamespace,
      `Invalid '${field}' namespace: ${JSON.stringify(value)} (expected "db.collection")`,
    );
  }
  return { db: text.slice(0, dot), coll: text.slice(dot + 1) };
}

function renameCollection(context: CommandContext): Document {
  const from = parseNamespace(context.command.renameCollection, 'renameCollection');
  const to = parseNamespace(context.command.to, 'to');
  const dropTarget = optional<boolean>(context.command, 'dropTarget', 'boolean') === true;
  context.writer.ddl(context.services.store.rename(from, to, dropTarget));
  return { ok: 1 };
}

const COLL_MOD_OPTIONS = new Set([
  'changeStreamPreAndPostImages',
  'validator',
  'validationLevel',
  'validationAction',
  'index',
  'expireAfterSeconds',
  'viewOn',
  'pipeline',
]);

function collMod(context: CommandContext): Document {
  const collection = requireCollection(context, collectionNameOf(context));
  const { index, ...options } = commandOptions(context, COLL_MOD_OPTIONS);
  checkValidationOptions(options);
  if (index !== undefined) modifyIndex(collection, index);
  collection.options = { ...collection.options, ...options };
  context.writer.ddl([
    {
      op: 'modify',
      db: collection.db,
      coll: collection.name,
      collectionUUID: collection.uuid,
      operationDescription: { ...options, ...(index !== undefined ? { index } : {}) },
    },
  ]);
  return { ok: 1 };
}

/** collMod's `index: { name | keyPattern, expireAfterSeconds?, hidden? }`. */
function modifyIndex(collection: Collection, change: Document): void {
  const index = collection.data.indexes.find((candidate) =>
    change.name !== undefined
      ? candidate.name === change.name
      : keyOf(candidate.spec.key) === keyOf(change.keyPattern),
  );
  if (!index) {
    throw serverError(
      ErrorCodes.IndexNotFound,
      `cannot find index ${JSON.stringify(change.name ?? change.keyPattern)} for ns ${collection.ns}`,
    );
  }
  for (const option of ['expireAfterSeconds', 'hidden'] as const) {
    if (change[option] !== undefined) index.spec[option] = change[option];
  }
}

function listCollections(context: CommandContext): Document {
  const { command, db, services } = context;
  const nameOnly = optional<boolean>(command, 'nameOnly', 'boolean') === true;
  const matches = compileFilter(optional(command, 'filter', 'object'));
  const entries = services.store
    .collectionsOf(db)
    .map((collection) => collection.describe())
    .filter(matches)
    .map((entry) => (nameOnly ? { name: entry.name, type: entry.type } : entry));
  return cursorReply(0, `${db}.$cmd.listCollections`, { documents: entries, exhausted: true }, 'firstBatch');
}

/** Databases mongod always lists. */
const SYSTEM_DATABASES = ['admin', 'config', 'local'];

function listDatabases(context: CommandContext): Document {
  const { command, services } = context;
  const names = [...new Set([...SYSTEM_DATABASES, ...services.store.databaseNames()])].sort();
  const entries = names.map((name) => {
    const sizeOnDisk = services.store
      .collectionsOf(name)
      .reduce(
        (total, collection) =>
          total + [...collection.data.docs.values()].reduce((sum, doc) => sum + calculateObjectSize(doc), 0),
        0,
      );
    return { name, sizeOnDisk, empty: sizeOnDisk === 0 };
  });
  const matches = compileFilter(optional(command, 'filter', 'object'));
  const listed = entries.filter(matches);
  if (optional<boolean>(command, 'nameOnly', 'boolean')) {
    return { databases: listed.map(({ name }) => ({ name })), ok: 1 };
  }
  const totalSize = listed.reduce((sum, entry) => sum + entry.sizeOnDisk, 0);
  return { databases: listed, totalSize, totalSizeMb: Math.floor(totalSize / 1024 / 1024), ok: 1 };
}

/** DDL needs a writable primary, like any write (`write: true`); it carries no txnNumber. */
export const catalogCommands: CommandTable = {
  create: { run: create, write: true },
  drop: { run: drop, write: true },
  dropDatabase: { run: dropDatabase, write: true },
  renameCollection: { run: renameCollection, write: true, adminOnly: true },
  collMod: { run: collMod, write: true },
  listCollections: { run: listCollections },
  listDatabases: { run: listDatabases, adminOnly: true },
};
