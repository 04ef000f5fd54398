/**
 * Writes: insert, update, delete (per-statement write errors, ordered or not) and findAndModify.
 * Inside a transaction a failed statement fails the whole command, as in mongod.
 */
import { ObjectId, type Document } from 'bson';
import { ErrorCodes, MongoServerError, serverError } from '../errors';
import type { Collection } from '../storage/collection';
import { compileFilter, findDocuments } from '../storage/query';
import {
  applyUpdate,
  buildUpsertDocument,
  parseUpdate,
  withIdFirst,
  type ParsedUpdate,
} from '../storage/update';
import { sameDocument } from '../storage/values';
import { collectionNameOf, optional, required, type CommandContext, type CommandTable } from './context';

/** Runs each statement; collects mongod-style writeErrors, stopping at the first when ordered. */
function forEachStatement<T>(
  context: CommandContext,
  statements: T[],
  run: (statement: T, index: number) => void,
): Document[] {
  const ordered = optional<boolean>(context.command, 'ordered', 'boolean') ?? true;
  const writeErrors: Document[] = [];
  for (const [index, statement] of statements.entries()) {
    try {
      run(statement, index);
    } catch (error) {
      if (!(error instanceof MongoServerError) || context.writer.inTransaction) throw error;
      writeErrors.push({ index, code: error.code, ...error.extra, errmsg: error.message });
      if (ordered) break;
    }
  }
  return writeErrors;
}

const withWriteErrors = (reply: Document, writeErrors: Document[]) =>
  writeErrors.length ? { ...reply, writeErrors } : reply;

/** The collection a write targets when it exists (no implicit creation for writes that match nothing). */
function existingTarget(context: CommandContext, name: string): Collection | undefined {
  return context.services.store.collection(context.db, name)
    ? context.writer.target(context.db, name)
    : undefined;
}

function insert(context: CommandContext): Document {
  const documents = required<Document[]>(context.command, 'documents', 'array');
  const collection = context.writer.target(context.db, collectionNameOf(context));
  let n = 0;
  const writeErrors = forEachStatement(context, documents, (doc) => {
    context.writer.insert(collection, prepareInsert(doc));
    n++;
  });
  return withWriteErrors({ n, ok: 1 }, writeErrors);
}

/** `_id` first, generated when absent; mongod's checks on `_id`. */
function prepareInsert(doc: Document): Document {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    throw serverError(ErrorCodes.TypeMismatch, 'documents to insert must be objects');
  }
  if (Array.isArray(doc._id)) {
    throw serverError(ErrorCodes.InvalidIdField, `The '_id' value cannot be of type array`);
  }
  if (doc._id instanceof RegExp) {
    throw serverError(ErrorCodes.InvalidIdField, `The '_id' value cannot be of type regex`);
  }
  return withIdFirst(doc._id === undefined ? { _id: new ObjectId(), ...doc } : doc);
}

interface UpdateStatement {
  q: Document;
  u: Document | Document[];
  upsert?: boolean;
  multi?: boolean;
  arrayFilters?: Document[];
  collation?: Document;
}

function update(context: CommandContext): Document {
  const statements = required<UpdateStatement[]>(context.command, 'updates', 'array');
  const name = collectionNameOf(context);
  let n = 0;
  let nModified = 0;
  const upserted: Document[] = [];
  const writeErrors = forEachStatement(context, statements, (statement, index) => {
    const parsed = parseUpdate(statement.u);
    if (statement.multi && parsed.kind === 'replacement') {
      throw serverError(
        ErrorCodes.FailedToParse,
        'multi update is not supported for replacement-style update',
      );
    }
    const collection = statement.upsert
      ? context.writer.target(context.db, name)
      : existingTarget(context, name);
    const result = updateMatching(context, collection, statement, parsed);
    n += result.matched;
    nModified += result.modified;
    if (result.upserted) {
      n++;
      upserted.push({ index, _id: result.upserted._id });
    }
  });
  return withWriteErrors({ n, nModified, ...(upserted.length ? { upserted } : {}), ok: 1 }, writeErrors);
}

/** Applies one update statement; inserts when it upserts and nothing matched. */
function updateMatching(
  context: CommandContext,
  collection: Collection | undefined,
  statement: UpdateStatement,
  parsed: ParsedUpdate,
): { matched: number; modified: number; upserted?: Document } {
  if (!collection) return { matched: 0, modified: 0 };
  const { writer } = context;
  const matches = compileFilter(statement.q, { collation: statement.collation });
  const targets: Document[] = [];
  for (const doc of writer.data(collection).candidates(statement.q)) {
    if (!matches(doc)) continue;
    targets.push(doc);
    if (!statement.multi) break;
  }
  const updateContext = { filter: statement.q, arrayFilters: statement.arrayFilters };
  if (!targets.length && statement.upsert) {
    const doc = buildUpsertDocument(statement.q ?? {}, parsed, updateContext);
    writer.insert(collection, doc);
    return { matched: 0, modified: 0, upserted: doc };
  }
  let modified = 0;
  for (const before of targets) {
    const after = applyUpdate(before, parsed, updateContext);
    if (sameDocument(before, after)) continue;
    writer.update(collection, before, after, parsed.kind === 'replacement' ? undefined : statement.u);
    modified++;
  }
  return { matched: targets.length, modified };
}

interface DeleteStatement {
  q: Document;
  limit: number;
  collation?: Document;
}

function remove(context: CommandContext): Document {
  const statements = required<DeleteStatement[]>(context.command, 'deletes', 'array');
  const collection = existingTarget(context, collectionNameOf(context));
  let n = 0;
  const writeErrors = forEachStatement(context, statements, (statement) => {
    if (statement.limit !== 0 && statement.limit !== 1) {
      throw serverError(
        ErrorCodes.FailedToParse,
        `The limit field in delete objects must be 0 or 1. Got ${statement.limit}`,
      );
    }
    if (!collection) return;
    const matches = compileFilter(statement.q, { collation: statement.collation });
    for (const doc of context.writer.data(collection).candidates(statement.q)) {
      if (!matches(doc)) continue;
      context.writer.delete(collection, doc);
      n++;
      if (statement.limit === 1) break;
    }
  });
  return withWriteErrors({ n, ok: 1 }, writeErrors);
}

function findAndModify(context: CommandContext): Document {
  const { command, writer, db } = context;
  const name = collectionNameOf(context);
  const removing = optional<boolean>(command, 'remove', 'boolean') === true;
  const upsert = optional<boolean>(command, 'upsert', 'boolean') === true;
  const returnNew = optional<boolean>(command, 'new', 'boolean') === true;
  const query = optional<Document>(command, 'query', 'object') ?? {};
  const fields = optional<Document>(command, 'fields', 'object');
  if (removing && command.update !== undefined) {
    throw serverError(ErrorCodes.FailedToParse, 'Cannot specify both an update and remove=true');
  }
  if (!removing && command.update === undefined) {
    throw serverError(ErrorCodes.FailedToParse, 'Either an update or remove=true must be specified');
  }
  if (removing && (upsert || returnNew)) {
    throw serverError(ErrorCodes.FailedToParse, 'Cannot specify both upsert=true and remove=true');
  }
  const collection = upsert ? writer.target(db, name) : existingTarget(context, name);
  const [target] = collection
    ? findDocuments(writer.data(collection).candidates(query), {
        filter: query,
        sort: optional(command, 'sort', 'object'),
        limit: 1,
        collation: optional(command, 'collation', 'object'),
      })
    : [];
  const project = (doc: Document | null | undefined) =>
    doc && fields ? findDocuments([doc], { projection: fields })[0] : (doc ?? null);

  if (removing) {
    if (collection && target) writer.delete(collection, target);
    return { lastErrorObject: { n: target ? 1 : 0 }, value: project(target), ok: 1 };
  }
  const parsed = parseUpdate(command.update);
  const arrayFilters = optional<Document[]>(command, 'arrayFilters', 'array');
  if (collection && target) {
    const after = applyUpdate(target, parsed, { filter: query, arrayFilters });
    if (!sameDocument(target, after)) {
      writer.update(collection, target, after, parsed.kind === 'replacement' ? undefined : command.update);
    }
    return {
      lastErrorObject: { n: 1, updatedExisting: true },
      value: project(returnNew ? after : target),
      ok: 1,
    };
  }
  if (collection && upsert) {
    const doc = buildUpsertDocument(query, parsed, { filter: query, arrayFilters });
    writer.insert(collection, doc);
    return {
      lastErrorObject: { n: 1, updatedExisting: false, upserted: doc._id },
      value: project(returnNew ? doc : null),
      ok: 1,
    };
  }
  return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: 1 };
}

export const writeCommands: CommandTable = {
  insert: { run: insert, write: true },
  update: { run: update, write: true },
  delete: { run: remove, write: true },
  findAndModify: { run: findAndModify, write: true },
};
