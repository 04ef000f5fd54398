/**
 * Writes: insert, update, delete (per-statement write errors, ordered or not) and findAndModify.
 * Inside a transaction a failed statement fails the whole command, as in mongod.
 */
import { ObjectId, type Document } from 'bson';
import { ErrorCodes, MongoServerError, serverError } from '../errors/server-error';
import { idKeyOf } from '../storage/collection';
import { narrowingFilter } from '../storage/collation';
import { evaluateLet } from '../storage/let-variables';
import { compileFilter } from '../storage/query';
import {
  applyUpdate,
  buildUpsertDocument,
  parseUpdate,
  withIdFirst,
  type ParsedUpdate,
} from '../storage/update';
import { checkStorableId, validateDocument } from '../storage/validation';
import { sameDocument } from '../storage/values';
import { retryWhileBlocked } from './blocking';
import { collectionNameOf, optional, required, type CommandContext, type CommandTable } from './context';
import { findAndModify } from './find-and-modify';
import {
  bypassesValidation,
  checkStatementFields,
  DELETE_STATEMENT_FIELDS,
  existingTarget,
  UPDATE_STATEMENT_FIELDS,
  type WriteOptions,
} from './write-support';

/**
 * Runs each statement; collects mongod-style writeErrors, stopping at the first when ordered. An
 * interruption (MaxTimeMSExpired) fails the whole command, as in mongod.
 */
async function forEachStatement<T>(
  context: CommandContext,
  statements: T[],
  run: (statement: T, index: number) => Promise<void>,
): Promise<Document[]> {
  const ordered = optional<boolean>(context.command, 'ordered', 'boolean') ?? true;
  const writeErrors: Document[] = [];
  for (const [index, statement] of statements.entries()) {
    try {
      await run(statement, index);
    } catch (error) {
      if (!(error instanceof MongoServerError) || context.writer.inTransaction) throw error;
      if (error.code === ErrorCodes.MaxTimeMSExpired) throw error;
      writeErrors.push({ index, code: error.code, ...error.extra, errmsg: error.message });
      if (ordered) break;
    }
  }
  return writeErrors;
}

const withWriteErrors = (reply: Document, writeErrors: Document[]) =>
  writeErrors.length ? { ...reply, writeErrors } : reply;

async function insert(context: CommandContext): Promise<Document> {
  const documents = required<Document[]>(context.command, 'documents', 'array');
  const name = collectionNameOf(context);
  let n = 0;
  const bypass = bypassesValidation(context);
  const writeErrors = await forEachStatement(context, documents, async (doc) => {
    const prepared = prepareInsert(doc);
    await retryWhileBlocked(context, () => {
      const collection = context.writer.target(context.db, name);
      validateDocument(collection, prepared, { bypass });
      context.writer.insert(collection, prepared);
    });
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
  checkStorableId(doc);
  return withIdFirst(doc._id === undefined ? { _id: new ObjectId(), ...doc } : doc);
}

interface UpdateStatement {
  q: Document;
  u: Document | Document[];
  /** Constants of the statement (5.0+), `$$name` like the command's `let`. */
  c?: Document;
  upsert?: boolean;
  multi?: boolean;
  arrayFilters?: Document[];
  collation?: Document;
}

async function update(context: CommandContext): Promise<Document> {
  const statements = required<UpdateStatement[]>(context.command, 'updates', 'array');
  checkStatementFields('update', 'updates', statements as Document[], UPDATE_STATEMENT_FIELDS);
  const name = collectionNameOf(context);
  const variables = evaluateLet(context.command.let);
  const bypass = bypassesValidation(context);
  let n = 0;
  let nModified = 0;
  const upserted: Document[] = [];
  const writeErrors = await forEachStatement(context, statements, async (statement, index) => {
    const parsed = parseUpdate(statement.u);
    if (statement.multi && parsed.kind === 'replacement') {
      throw serverError(
        ErrorCodes.FailedToParse,
        'multi update is not supported for replacement-style update',
      );
    }
    const options = { variables: evaluateLet(statement.c, 'c', variables), bypass };
    const result = await runUpdate(context, name, statement, parsed, options);
    n += result.matched;
    nModified += result.modified;
    if (result.upserted) {
      n++;
      upserted.push({ index, _id: result.upserted._id });
    }
  });
  return withWriteErrors({ n, nModified, ...(upserted.length ? { upserted } : {}), ok: 1 }, writeErrors);
}

interface UpdateResult {
  matched: number;
  modified: number;
  upserted?: Document;
}

/**
 * Runs one update statement. A statement changing one document runs again whole when blocked;
 * a multi update that matched documents goes document by document, each re-read and re-matched
 * after a wait (mongod retries the conflicting document only).
 */
async function runUpdate(
  context: CommandContext,
  name: string,
  statement: UpdateStatement,
  parsed: ParsedUpdate,
  options: WriteOptions,
): Promise<UpdateResult> {
  const whole = () =>
    retryWhileBlocked(context, () => updateMatching(context, name, statement, parsed, options));
  const collection = context.writer.collection(context.db, name);
  if (!statement.multi || !collection) return whole();
  const { collation } = statement;
  const matches = compileFilter(statement.q, { collation, variables: options.variables });
  const targets = context.writer
    .data(collection)
    .candidates(narrowingFilter(statement.q, collation))
    .filter(matches);
  if (!targets.length) return whole();
  const updateContext = updateContextOf(statement, options);
  const result: UpdateResult = { matched: 0, modified: 0 };
  for (const target of targets) {
    const outcome = await retryWhileBlocked(context, () => {
      const before = context.writer.data(collection).get(idKeyOf(target));
      if (!before || !matches(before)) return 'gone';
      const after = applyUpdate(before, parsed, updateContext);
      if (sameDocument(before, after)) return 'matched';
      validateDocument(collection, after, { before, bypass: options.bypass });
      context.writer.update(collection, before, after, statement.u);
      return 'modified';
    });
    if (outcome !== 'gone') result.matched++;
    if (outcome === 'modified') result.modified++;
  }
  return result;
}

/** Applies one update statement; inserts when it upserts and nothing matched. */
const updateContextOf = (statement: UpdateStatement, options: WriteOptions) => ({
  filter: statement.q,
  arrayFilters: statement.arrayFilters,
  variables: options.variables,
  collation: statement.collation,
});

function updateMatching(
  context: CommandContext,
  name: string,
  statement: UpdateStatement,
  parsed: ParsedUpdate,
  options: WriteOptions,
): UpdateResult {
  const collection = statement.upsert
    ? context.writer.target(context.db, name)
    : existingTarget(context, name);
  if (!collection) return { matched: 0, modified: 0 };
  const { writer } = context;
  const { collation } = statement;
  const matches = compileFilter(statement.q, { collation, variables: options.variables });
  const targets: Document[] = [];
  for (const doc of writer.data(collection).candidates(narrowingFilter(statement.q, collation))) {
    if (!matches(doc)) continue;
    targets.push(doc);
    if (!statement.multi) break;
  }
  const updateContext = updateContextOf(statement, options);
  if (!targets.length && statement.upsert) {
    const doc = buildUpsertDocument(statement.q ?? {}, parsed, updateContext);
    checkStorableId(doc);
    validateDocument(collection, doc, { bypass: options.bypass });
    writer.insert(collection, doc);
    return { matched: 0, modified: 0, upserted: doc };
  }
  let modified = 0;
  for (const before of targets) {
    const after = applyUpdate(before, parsed, updateContext);
    if (sameDocument(before, after)) continue;
    validateDocument(collection, after, { before, bypass: options.bypass });
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

async function remove(context: CommandContext): Promise<Document> {
  const statements = required<DeleteStatement[]>(context.command, 'deletes', 'array');
  checkStatementFields('delete', 'deletes', statements as Document[], DELETE_STATEMENT_FIELDS);
  const collection = existingTarget(context, collectionNameOf(context));
  const variables = evaluateLet(context.command.let);
  let n = 0;
  const writeErrors = await forEachStatement(context, statements, async (statement) => {
    if (statement.limit !== 0 && statement.limit !== 1) {
      throw serverError(
        ErrorCodes.FailedToParse,
        `The limit field in delete objects must be 0 or 1. Got ${statement.limit}`,
      );
    }
    if (!collection) return;
    const matches = compileFilter(statement.q, { collation: statement.collation, variables });
    const data = () => context.writer.data(collection);
    const filter = narrowingFilter(statement.q, statement.collation);
    if (statement.limit === 1) {
      // One document: the statement runs again whole when blocked.
      n += await retryWhileBlocked(context, () => {
        const doc = data().candidates(filter).find(matches);
        if (doc) context.writer.delete(collection, doc);
        return doc ? 1 : 0;
      });
      return;
    }
    for (const target of data().candidates(filter).filter(matches)) {
      n += await retryWhileBlocked(context, () => {
        const doc = data().get(idKeyOf(target));
        if (!doc || !matches(doc)) return 0;
        context.writer.delete(collection, doc);
        return 1;
      });
    }
  });
  return withWriteErrors({ n, ok: 1 }, writeErrors);
}

export const writeCommands: CommandTable = {
  insert: { run: insert, write: true },
  update: { run: update, write: true },
  delete: { run: remove, write: true },
  findAndModify: { run: findAndModify, write: true },
};
