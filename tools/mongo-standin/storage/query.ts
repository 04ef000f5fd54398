/**
 * Query, projection and aggregation over stored documents, by mingo, with mongod's errors.
 * Stored documents are never mutated here: aggregation clones its input.
 */
import { ObjectId, type Document } from 'bson';
import { Aggregator } from 'mingo/aggregator';
import { ProcessingMode } from 'mingo/core';
import * as pipelineOperators from 'mingo/operators/pipeline';
import { Query } from 'mingo/query';
import type { Options as MingoOptions } from 'mingo/types';
import { ErrorCodes, MongoServerError, serverError } from '../errors/server-error';
import { parseCollation } from './collation';
import { refuseUncollated, STANDIN_CONTEXT } from './mingo-context';
import { queryView } from './typed-values';
import { keyOf } from './values';

/** Options shared by find and aggregate. */
export interface QueryOptions {
  /** The collation document of the command or statement (parsed and checked here). */
  collation?: Document;
  /** Documents of another collection of the same database (for $lookup, $unionWith, $graphLookup). */
  resolveCollection?: (name: string) => Document[];
  /** The command's `let` variables, evaluated (see let-variables.ts), as `$$name`. */
  variables?: Document;
}

export interface FindSpec extends QueryOptions {
  filter?: Document;
  sort?: Document;
  skip?: number;
  limit?: number;
  projection?: Document;
}

/** Stages mingo evaluates that only write elsewhere; the stand-in refuses them rather than bypass its storage. */
const WRITING_STAGES = new Set(['$out', '$merge']);
const SUPPORTED_STAGES = new Set(Object.keys(pipelineOperators).filter((name) => !WRITING_STAGES.has(name)));

/** A predicate for a query filter. Throws BadValue for an invalid filter. */
export function compileFilter(filter: Document = {}, options: QueryOptions = {}): (doc: Document) => boolean {
  const byId = idFilter(filter, options);
  if (byId) return byId;
  const query = withMongoErrors(() => new Query(queryView(filter), mingoOptions(options, filter)));
  return (doc) => withMongoErrors(() => query.test(queryView(doc)));
}

/**
 * The predicate of `{ _id: <string, number, ObjectId or Date> }` without collation, the filter of
 * most single-document writes: a key comparison (as the `_id` index compares), without building a
 * mingo query (whose set-up copies every operator table, the larger part of such a write's cost).
 */
function idFilter(
  filter: Document | undefined,
  options: QueryOptions,
): ((doc: Document) => boolean) | undefined {
  if (!filter || options.collation || options.variables) return undefined;
  const fields = Object.keys(filter);
  if (fields.length !== 1 || fields[0] !== '_id') return undefined;
  const id: unknown = filter._id;
  const scalar =
    typeof id === 'string' || typeof id === 'number' || id instanceof ObjectId || id instanceof Date;
  if (!scalar) return undefined;
  const key = keyOf(id);
  return (doc) => keyOf(doc._id) === key;
}

/** Filter, sort, skip, limit, then project: a find's result set. */
export function findDocuments(docs: Iterable<Document>, spec: FindSpec): Document[] {
  const byId = idFilter(spec.filter, spec);
  if (byId && !spec.sort && !spec.projection) {
    const matched = Array.from(docs).filter(byId);
    const from = Math.max(0, spec.skip ?? 0);
    return spec.limit ? matched.slice(from, from + spec.limit) : matched.slice(from);
  }
  return withMongoErrors(() => {
    const options = mingoOptions(spec, spec.filter);
    // mingo filters and sorts the query views; the stored documents (types as sent) are returned.
    const stored = new Map<Document, Document>();
    for (const doc of docs) stored.set(queryView(doc), doc);
    const cursor = new Query(queryView(spec.filter ?? {}), options).find([...stored.keys()]);
    if (spec.sort && Object.keys(spec.sort).length) cursor.sort(spec.sort as Record<string, 1 | -1>);
    if (spec.skip) cursor.skip(spec.skip);
    if (spec.limit) cursor.limit(spec.limit);
    const matched = (cursor.all() as Document[]).map((view) => stored.get(view) ?? view);
    return spec.projection && Object.keys(spec.projection).length
      ? matched.map((doc) => project(doc, spec.projection as Document, spec))
      : matched;
  });
}

/** Applies a find projection to one document, keeping the document's field order as mongod does. */
function project(doc: Document, projection: Document, options: QueryOptions): Document {
  const projected = new Query({}, mingoOptions(options)).find([doc], projection).next() as Document;
  const ordered: Document = {};
  for (const key of Object.keys(doc)) if (key in projected) ordered[key] = projected[key];
  for (const key of Object.keys(projected)) if (!(key in ordered)) ordered[key] = projected[key];
  return ordered;
}

/** Checks that every stage is one the stand-in evaluates (40324 names the first that is not). */
export function validatePipeline(pipeline: unknown): Document[] {
  if (!Array.isArray(pipeline)) {
    throw serverError(ErrorCodes.TypeMismatch, "'pipeline' option must be specified as an array");
  }
  for (const stage of pipeline) {
    const names = stage && typeof stage === 'object' ? Object.keys(stage) : [];
    if (names.length !== 1) {
      throw serverError(
        ErrorCodes.Location40323,
        'A pipeline stage specification object must contain exactly one field.',
      );
    }
    const [name] = names;
    if (name === '$changeStream') {
      throw serverError(
        ErrorCodes.Location40602,
        '$changeStream is only valid as the first stage in a pipeline.',
      );
    }
    if (WRITING_STAGES.has(name)) {
      throw serverError(ErrorCodes.IllegalOperation, `${name} is not supported by the MongoDB stand-in`);
    }
    if (!SUPPORTED_STAGES.has(name)) {
      throw serverError(ErrorCodes.Location40324, `Unrecognized pipeline stage name: '${name}'`);
    }
  }
  return pipeline as Document[];
}

/** Runs a validated pipeline over the documents. */
export function aggregateDocuments(
  docs: Iterable<Document>,
  pipeline: Document[],
  options: QueryOptions = {},
): Document[] {
  return withMongoErrors(() =>
    new Aggregator(pipeline, {
      ...mingoOptions(options, pipeline),
      processingMode: ProcessingMode.CLONE_INPUT,
    }).run(Array.from(docs)),
  );
}

/**
 * mingo's options for a query or pipeline: the stand-in's operators, the parsed collation (a
 * filter or pipeline using an operator the stand-in does not collate is refused under one), the
 * command's variables.
 */
function mingoOptions(options: QueryOptions, spec?: unknown): Partial<MingoOptions> {
  const collation = parseCollation(options.collation);
  if (collation) refuseUncollated(spec);
  return {
    context: STANDIN_CONTEXT,
    ...(collation ? { collation: collation.mingo } : {}),
    ...(options.resolveCollection ? { collectionResolver: options.resolveCollection } : {}),
    ...(options.variables ? { variables: options.variables } : {}),
  };
}

/** mingo throws plain Errors; mongod answers BadValue (2) for most of what they describe. */
export function withMongoErrors<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof MongoServerError) throw error;
    const { message } = error as Error;
    // mongod: "Use of undefined variable: <name>" is Location17276.
    const code = message.startsWith('Use of undefined variable:')
      ? ErrorCodes.Location17276
      : ErrorCodes.BadValue;
    throw serverError(code, message);
  }
}
