/**
 * createIndexes, listIndexes, dropIndexes. Inside a transaction mongod 7.0 creates indexes only
 * on a new collection (created implicitly, or earlier in the same transaction) that is still
 * empty; the indexes then exist only inside the transaction until commit.
 */
import type { Document } from 'bson';
import { cursorReply } from '../services/cursors';
import { ErrorCodes, serverError } from '../errors/server-error';
import type { Collection } from '../storage/collection';
import { ID_INDEX_NAME, indexExists, normaliseIndexSpec, type IndexSpec } from '../storage/indexes';
import { keyOf } from '../storage/values';
import { retryWhileBlocked } from './blocking';
import { requireCollection } from './catalog';
import { collectionNameOf, required, type CommandContext, type CommandTable } from './context';

async function createIndexes(context: CommandContext): Promise<Document> {
  const { command, db, writer } = context;
  const name = collectionNameOf(context);
  const specs = required<unknown[]>(command, 'indexes', 'array').map(normaliseIndexSpec);
  if (!specs.length) throw serverError(ErrorCodes.BadValue, 'Must specify at least one index to create');
  const existed = writer.collection(db, name) !== undefined;
  const collection = await retryWhileBlocked(context, () => writer.target(db, name));
  if (context.txn) checkAllowedInTransaction(context, collection, specs);
  const before = collection.data.indexes.length;
  const created = collection.data.addIndexes(specs);
  if (created.length) {
    writer.ddl([
      {
        op: 'createIndexes',
        db,
        coll: name,
        collectionUUID: collection.uuid,
        operationDescription: { indexes: created },
      },
    ]);
  }
  return {
    numIndexesBefore: before,
    numIndexesAfter: collection.data.indexes.length,
    createdCollectionAutomatically: !existed,
    ...(created.length ? {} : { note: 'all indexes already exist' }),
    ok: 1,
  };
}

/** mongod's refusals of createIndexes in a transaction (OperationNotSupportedInTransaction, 263). */
function checkAllowedInTransaction(
  context: CommandContext,
  collection: Collection,
  specs: IndexSpec[],
): void {
  if (specs.every((spec) => indexExists(collection.data.indexes, spec))) return;
  if (!context.txn!.createdCollection(collection.db, collection.name)) {
    throw serverError(
      ErrorCodes.OperationNotSupportedInTransaction,
      `Cannot create new indexes on existing collection ${collection.ns} in a multi-document transaction.`,
    );
  }
  if (context.writer.data(collection).docs.size) {
    throw serverError(
      ErrorCodes.OperationNotSupportedInTransaction,
      `Cannot create new indexes on non-empty collection ${collection.ns} in a multi-document transaction.`,
    );
  }
}

function listIndexes(context: CommandContext): Document {
  const name = collectionNameOf(context);
  const collection = requireCollection(context, name);
  const specs = collection.data.indexes.map((index) => index.spec);
  return cursorReply(
    0,
    `${context.db}.$cmd.listIndexes.${name}`,
    { documents: specs, exhausted: true },
    'firstBatch',
  );
}

function dropIndexes(context: CommandContext): Document {
  const { command, writer } = context;
  const name = collectionNameOf(context);
  const collection = requireCollection(context, name, `ns not found ${context.db}.${name}`);
  const nIndexesWas = collection.data.indexes.length;
  const dropped = indexNamesToDrop(collection, command.index).map((indexName) =>
    collection.data.dropIndex(indexName),
  );
  if (dropped.length) {
    writer.ddl([
      {
        op: 'dropIndexes',
        db: collection.db,
        coll: name,
        collectionUUID: collection.uuid,
        operationDescription: { indexes: dropped },
      },
    ]);
  }
  return { nIndexesWas, ok: 1 };
}

/** `index` of dropIndexes: '*', a name, a list of names, or a key pattern. */
function indexNamesToDrop(collection: Collection, index: unknown): string[] {
  if (index === '*') {
    return collection.data.indexes
      .map((entry) => entry.name)
      .filter((indexName) => indexName !== ID_INDEX_NAME);
  }
  if (typeof index === 'string') return [index];
  if (Array.isArray(index)) return index.map(String);
  if (index && typeof index === 'object') {
    const match = collection.data.indexes.find((entry) => keyOf(entry.spec.key) === keyOf(index));
    if (!match) {
      throw serverError(ErrorCodes.IndexNotFound, `can't find index with key: ${JSON.stringify(index)}`);
    }
    return [match.name];
  }
  throw serverError(
    ErrorCodes.TypeMismatch,
    "dropIndexes 'index' must be a name, a list of names, '*' or a key pattern",
  );
}

export const indexCommands: CommandTable = {
  createIndexes: { run: createIndexes, write: true },
  dropIndexes: { run: dropIndexes, write: true },
  listIndexes: { run: listIndexes },
};
