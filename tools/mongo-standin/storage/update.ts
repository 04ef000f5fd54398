/**
 * Update documents as mongod applies them: operator updates (by mingo, plus what mingo lacks or
 * gets silently wrong: `$setOnInsert`, `$inc`/`$mul` on Long and Decimal128 and type errors,
 * `$currentDate` timestamps, array-type and path checks), replacement documents, pipeline updates,
 * and the document an upsert inserts.
 */
import { ObjectId, Timestamp, type Document } from 'bson';
import { update as mingoUpdate } from 'mingo';
import { ErrorCodes, serverError } from '../errors/server-error';
import { parseCollation, standInRefusal } from './collation';
import { addNumeric, isNumeric, multiplyNumeric, zeroLike, type Numeric } from './numeric';
import { aggregateDocuments, withMongoErrors } from './query';
import {
  bsonTypeName,
  cloneDocument,
  formatValue,
  getPath,
  isOperatorObject,
  keyOf,
  setPath,
  unsetPath,
} from './values';

/** An update as the client sent it, classified and validated. */
export type ParsedUpdate =
  | { kind: 'replacement'; replacement: Document }
  | { kind: 'operators'; operators: Record<string, Document> }
  | { kind: 'pipeline'; pipeline: Document[] };

/** Where an update is applied: the query (for positional `$`), arrayFilters, and whether it inserts. */
export interface UpdateContext {
  filter?: Document;
  arrayFilters?: Document[];
  /** True when the update builds the document an upsert inserts (`$setOnInsert` applies). */
  inserting?: boolean;
  /** A pipeline update's `$$variables` (the command's `let`, the statement's `c`) and collation. */
  variables?: Document;
  collation?: Document;
}

const MINGO_OPERATORS = new Set([
  '$addToSet',
  '$bit',
  '$currentDate',
  '$inc',
  '$max',
  '$min',
  '$mul',
  '$pop',
  '$pull',
  '$pullAll',
  '$push',
  '$rename',
  '$set',
  '$unset',
]);
const PIPELINE_UPDATE_STAGES = new Set([
  '$addFields',
  '$set',
  '$project',
  '$unset',
  '$replaceRoot',
  '$replaceWith',
]);
const ARRAY_OPERATORS = new Set(['$push', '$addToSet', '$pull', '$pullAll', '$pop']);
/** Operators that may create the fields they name. */
const CREATING_OPERATORS = new Set([
  '$set',
  '$setOnInsert',
  '$inc',
  '$mul',
  '$max',
  '$min',
  '$currentDate',
  '$push',
  '$addToSet',
]);

/** Classifies and validates an update (`u` of an update statement, `update` of findAndModify). */
export function parseUpdate(update: unknown): ParsedUpdate {
  if (Array.isArray(update)) {
    for (const stage of update as Document[]) {
      const name = Object.keys(stage ?? {})[0];
      if (!PIPELINE_UPDATE_STAGES.has(name)) {
        throw serverError(ErrorCodes.InvalidOptions, `${name} is not allowed to be used within an update`);
      }
    }
    return { kind: 'pipeline', pipeline: update as Document[] };
  }
  if (!update || typeof update !== 'object') {
    throw serverError(ErrorCodes.FailedToParse, 'Update argument must be either an object or an array');
  }
  const keys = Object.keys(update);
  if (!keys.length || !keys[0].startsWith('$')) {
    const dollar = keys.find((key) => key.startsWith('$'));
    if (dollar) {
      throw serverError(
        ErrorCodes.DollarPrefixedFieldName,
        `The dollar ($) prefixed field '${dollar}' in '${dollar}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith.`,
      );
    }
    return { kind: 'replacement', replacement: update as Document };
  }
  const operators = update as Record<string, Document>;
  for (const [operator, argument] of Object.entries(operators)) {
    if (operator !== '$setOnInsert' && !MINGO_OPERATORS.has(operator)) {
      throw serverError(
        ErrorCodes.FailedToParse,
        `Unknown modifier: ${operator}. Expected a valid update modifier or pipeline-style update specified as an array`,
      );
    }
    if (!argument || typeof argument !== 'object' || Array.isArray(argument)) {
      throw serverError(
        ErrorCodes.FailedToParse,
        `Modifiers operate on fields but we found type ${bsonTypeName(argument)} instead. For example: {$mod: {<field>: ...}} not {${operator}: ${formatValue(argument)}}`,
      );
    }
  }
  checkConflicts(operators);
  return { kind: 'operators', operators };
}

function checkConflicts(operators: Record<string, Document>): void {
  const paths: string[] = [];
  for (const [operator, argument] of Object.entries(operators)) {
    for (const [path, value] of Object.entries(argument)) {
      const targets = operator === '$rename' && typeof value === 'string' ? [path, value] : [path];
      for (const target of targets) {
        const conflict = paths.find(
          (seen) => seen === target || seen.startsWith(`${target}.`) || target.startsWith(`${seen}.`),
        );
        if (conflict !== undefined) {
          const shorter = conflict.length < target.length ? conflict : target;
          throw serverError(
            ErrorCodes.ConflictingUpdateOperators,
            `Updating the path '${target}' would create a conflict at '${shorter}'`,
          );
        }
        paths.push(target);
      }
    }
  }
}

/** Applies a parsed update to a document; returns the new document (the input is not modified). */
export function applyUpdate(doc: Document, update: ParsedUpdate, context: UpdateContext = {}): Document {
  let result: Document;
  if (update.kind === 'replacement') {
    result = replaceKeepingId(doc, update.replacement);
  } else if (update.kind === 'pipeline') {
    const { variables, collation } = context;
    result = aggregateDocuments([doc], update.pipeline, { variables, collation })[0] ?? {};
    // mongod gives the pipeline's result the document's _id back when it has none ($replaceRoot, $project).
    if (result._id === undefined && doc._id !== undefined) result._id = doc._id;
  } else {
    if (parseCollation(context.collation)) refuseUncollatedOperators(update.operators, context);
    result = cloneDocument(doc);
    applyOperators(result, prepareOperators(result, update.operators, context), context);
  }
  if (doc._id !== undefined && keyOf(result._id) !== keyOf(doc._id)) {
    if (update.kind !== 'replacement') throw immutableId();
    throw serverError(
      ErrorCodes.ImmutableField,
      `After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${formatValue(result._id)}`,
    );
  }
  return withIdFirst(result);
}

/**
 * Under a collation mongod also compares strings by it in `$pull`, `$pullAll`, `$addToSet`,
 * `$min`, `$max`, `$push` with `$sort`, arrayFilters and the positional `$`; mingo applies these
 * binary, so the stand-in refuses them under a non-simple collation rather than answer differently.
 */
function refuseUncollatedOperators(operators: Record<string, Document>, context: UpdateContext): void {
  const binary = ['$pull', '$pullAll', '$addToSet', '$min', '$max'].find((name) => name in operators);
  const sortedPush = Object.values(operators.$push ?? {}).some(
    (value) => isOperatorObject(value) && '$sort' in (value as Document),
  );
  const positional = Object.values(operators).some((argument) => Object.keys(argument).some(isPositional));
  const what =
    binary ??
    (sortedPush
      ? '$push with $sort'
      : positional || context.arrayFilters
        ? 'arrayFilters and positional updates'
        : undefined);
  if (what) throw standInRefusal(`${what} under a non-simple collation`);
}

const immutableId = () =>
  serverError(
    ErrorCodes.ImmutableField,
    "Performing an update on the path '_id' would modify the immutable field '_id'",
  );

function replaceKeepingId(doc: Document, replacement: Document): Document {
  const result = cloneDocument(replacement);
  if (result._id === undefined && doc._id !== undefined) result._id = doc._id;
  return result;
}

/**
 * Rewrites the operators mingo cannot apply correctly into `$set`s computed here, after checking
 * the types mongod checks. Only plain paths (no positional `$`, `$[]`, `$[id]`) are rewritten.
 */
function prepareOperators(
  doc: Document,
  operators: Record<string, Document>,
  context: UpdateContext,
): Record<string, Document> {
  const prepared: Record<string, Document> = {};
  const set: Document = {};
  const add = (operator: string, path: string, value: unknown) => ((prepared[operator] ??= {})[path] = value);
  for (const [operator, argument] of Object.entries(operators)) {
    if (operator === '$setOnInsert') {
      if (context.inserting) Object.assign(set, argument);
      continue;
    }
    for (const [path, value] of Object.entries(argument)) {
      if (path === '_id' || path.startsWith('_id.')) {
        // Setting _id to the value it has is a no-op; anything else would change it.
        if (
          (operator === '$set' || operator === '$setOnInsert') &&
          keyOf(value) === keyOf(getPath(doc, path))
        )
          continue;
        if (doc._id !== undefined) throw immutableId();
      }
      if (isPositional(path)) {
        add(operator, path, value);
        continue;
      }
      if (CREATING_OPERATORS.has(operator)) checkPathViable(doc, path);
      if (ARRAY_OPERATORS.has(operator)) checkArray(doc, operator, path);
      if (operator === '$inc' || operator === '$mul') set[path] = arithmetic(doc, operator, path, value);
      else if (operator === '$currentDate') set[path] = currentDate(value);
      else add(operator, path, value);
    }
  }
  if (Object.keys(set).length) prepared.$set = { ...prepared.$set, ...set };
  return prepared;
}

const isPositional = (path: string) => path.split('.').some((part) => part.startsWith('$'));

/**
 * Applies prepared operators in place. `$set` / `$unset` of plain paths are done here, in the
 * lexicographic path order mongod 5+ uses; the rest goes to mingo (which builds its operator
 * context on every call, so the common case avoids it).
 */
function applyOperators(doc: Document, operators: Record<string, Document>, context: UpdateContext): void {
  const forMingo: Record<string, Document> = {};
  for (const [operator, argument] of Object.entries(operators)) {
    if (operator !== '$set' && operator !== '$unset') {
      forMingo[operator] = argument;
      continue;
    }
    for (const path of Object.keys(argument).sort()) {
      if (isPositional(path)) (forMingo[operator] ??= {})[path] = argument[path];
      else if (operator === '$set') setPath(doc, path, argument[path]);
      else unsetPath(doc, path);
    }
  }
  if (!Object.keys(forMingo).length) return;
  // The query is only needed to resolve the positional `$`.
  const positional = Object.values(forMingo).some((argument) =>
    Object.keys(argument).some((path) => path.split('.').includes('$')),
  );
  withMongoErrors(() =>
    mingoUpdate(doc, forMingo as never, context.arrayFilters, positional ? context.filter : undefined),
  );
}

function arithmetic(doc: Document, operator: '$inc' | '$mul', path: string, argument: unknown): Numeric {
  if (!isNumeric(argument)) {
    const verb = operator === '$inc' ? 'increment' : 'multiply';
    throw serverError(
      ErrorCodes.TypeMismatch,
      `Cannot ${verb} with non-numeric argument: {${path}: ${formatValue(argument)}}`,
    );
  }
  const current = getPath(doc, path);
  if (current === undefined) return operator === '$inc' ? argument : zeroLike(argument);
  if (!isNumeric(current)) {
    throw serverError(
      ErrorCodes.TypeMismatch,
      `Cannot apply ${operator} to a value of non-numeric type. {_id: ${formatValue(doc._id)}} has the field '${path.split('.').pop()}' of non-numeric type ${bsonTypeName(current)}`,
    );
  }
  return operator === '$inc' ? addNumeric(current, argument) : multiplyNumeric(current, argument);
}

let timestampIncrement = 0;
function currentDate(spec: unknown): Date | Timestamp {
  const now = new Date();
  if (spec && typeof spec === 'object' && (spec as Document).$type === 'timestamp') {
    return new Timestamp({
      t: Math.floor(now.getTime() / 1000),
      i: (timestampIncrement = (timestampIncrement % 0x7fffffff) + 1),
    });
  }
  return now;
}

function checkArray(doc: Document, operator: string, path: string): void {
  const current = getPath(doc, path);
  if (current === undefined || Array.isArray(current)) return;
  if (operator === '$pop') {
    throw serverError(
      ErrorCodes.TypeMismatch,
      `Path '${path}' contains an element of non-array type '${bsonTypeName(current)}'`,
    );
  }
  const message =
    operator === '$pull' || operator === '$pullAll'
      ? `Cannot apply ${operator} to a non-array value`
      : `The field '${path}' must be an array but is of type ${bsonTypeName(current)} in document {_id: ${formatValue(doc._id)}}`;
  throw serverError(ErrorCodes.BadValue, message);
}

/** mongod refuses to create a field under a scalar (PathNotViable, 28). */
function checkPathViable(doc: Document, path: string): void {
  const parts = path.split('.');
  let current: unknown = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = (current as Document)[parts[i]];
    if (next === undefined) return;
    const arrayByName = Array.isArray(next) && !/^\d+$/.test(parts[i + 1]);
    if (next === null || typeof next !== 'object' || isBsonValue(next) || arrayByName) {
      throw serverError(
        ErrorCodes.PathNotViable,
        `Cannot create field '${parts[i + 1]}' in element {${parts[i]}: ${formatValue(next)}}`,
      );
    }
    current = next;
  }
}

const isBsonValue = (value: object) => value instanceof Date || '_bsontype' in value;

/**
 * The document an upsert inserts when nothing matched: the filter's equality conditions, then the
 * update (with `$setOnInsert`), with a generated `_id` when neither gives one.
 */
export function buildUpsertDocument(
  filter: Document,
  update: ParsedUpdate,
  context: UpdateContext,
): Document {
  const seed: Document = {};
  collectEqualities(filter, seed);
  const inserted =
    update.kind === 'replacement'
      ? replaceKeepingId(seed, update.replacement)
      : applyUpdate(seed, update, { ...context, inserting: true });
  if (inserted._id === undefined) inserted._id = new ObjectId();
  return withIdFirst(inserted);
}

function collectEqualities(filter: Document, into: Document): void {
  for (const [field, condition] of Object.entries(filter ?? {})) {
    if (field === '$and' && Array.isArray(condition)) {
      for (const clause of condition) collectEqualities(clause as Document, into);
    } else if (!field.startsWith('$')) {
      const operators = isOperatorObject(condition) ? (condition as Document) : undefined;
      if (!operators) setPath(into, field, condition);
      else if ('$eq' in operators) setPath(into, field, operators.$eq);
    }
  }
}

/** mongod stores `_id` as the first field. */
export function withIdFirst(doc: Document): Document {
  if (doc._id === undefined || Object.keys(doc)[0] === '_id') return doc;
  const { _id, ...rest } = doc;
  return { _id, ...rest };
}
