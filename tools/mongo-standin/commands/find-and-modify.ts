/**
 * findAndModify: finds one document (filter, sort, collation, `let`) and removes, updates or
 * replaces it, or upserts; answers the document before or after, projected.
 */
import type { Document } from 'bson';
import { ErrorCodes, serverError } from '../errors/server-error';
import { narrowingFilter } from '../storage/collation';
import { evaluateLet } from '../storage/let-variables';
import { findDocuments } from '../storage/query';
import { applyUpdate, buildUpsertDocument, parseUpdate } from '../storage/update';
import { checkStorableId, validateDocument } from '../storage/validation';
import { sameDocument } from '../storage/values';
import { retryWhileBlocked } from './blocking';
import { collectionNameOf, optional, type CommandContext } from './context';
import { bypassesValidation, existingTarget } from './write-support';

/** findAndModify changes one document: it runs again whole when an open transaction blocks it. */
export const findAndModify = (context: CommandContext) =>
  retryWhileBlocked(context, () => findAndModifyOnce(context));

function findAndModifyOnce(context: CommandContext): Document {
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
  const collation = optional<Document>(command, 'collation', 'object');
  const variables = evaluateLet(command.let);
  const bypass = bypassesValidation(context);
  const [target] = collection
    ? findDocuments(writer.data(collection).candidates(narrowingFilter(query, collation)), {
        filter: query,
        sort: optional(command, 'sort', 'object'),
        limit: 1,
        collation,
        variables,
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
  const updateContext = { filter: query, arrayFilters, variables, collation };
  if (collection && target) {
    const after = applyUpdate(target, parsed, updateContext);
    if (!sameDocument(target, after)) {
      validateDocument(collection, after, { before: target, bypass });
      writer.update(collection, target, after, parsed.kind === 'replacement' ? undefined : command.update);
    }
    return {
      lastErrorObject: { n: 1, updatedExisting: true },
      value: project(returnNew ? after : target),
      ok: 1,
    };
  }
  if (collection && upsert) {
    const doc = buildUpsertDocument(query, parsed, updateContext);
    checkStorableId(doc);
    validateDocument(collection, doc, { bypass });
    writer.insert(collection, doc);
    return {
      lastErrorObject: { n: 1, updatedExisting: false, upserted: doc._id },
      value: project(returnNew ? doc : null),
      ok: 1,
    };
  }
  return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: 1 };
}
