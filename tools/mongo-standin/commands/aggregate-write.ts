/**
 * The aggregation stages that write, as mongod 7.0 runs them at the end of a pipeline:
 *
 * - `$out` replaces a collection by the results: they go into a new `tmp.agg_out.<uuid>`
 *   collection (with the target's options and indexes), renamed over the target at the end, so a
 *   failure leaves the target untouched and change streams see the create, the inserts and the rename.
 * - `$merge` writes each result into the target by its `on` fields (`_id` by default, else fields
 *   of a unique index): `whenMatched` replace / merge / keepExisting / fail / an update pipeline
 *   (`$$new` is the result), `whenNotMatched` insert / discard / fail.
 *
 * Both validate what they store against the target's validator unless `bypassDocumentValidation`.
 */
import { ObjectId, UUID, type Document } from 'bson';
import { ErrorCodes, serverError } from '../errors/server-error';
import type { Collection } from '../storage/collection';
import { evaluateLet } from '../storage/let-variables';
import { applyUpdate, parseUpdate, withIdFirst } from '../storage/update';
import { checkStorableId, validateDocument } from '../storage/validation';
import { getPath, keyOf, sameDocument } from '../storage/values';
import { optional, type CommandContext } from './context';

export const WRITE_STAGES = new Set(['$out', '$merge']);

/** The write stage ending a pipeline, if any; 40601 when one appears anywhere else. */
export function writeStageOf(pipeline: Document[]): Document | undefined {
  pipeline.forEach((stage, index) => {
    const [name] = Object.keys(stage ?? {});
    if (WRITE_STAGES.has(name) && index !== pipeline.length - 1) {
      throw serverError(ErrorCodes.Location40601, `${name} can only be the final stage in the pipeline`);
    }
  });
  const last = pipeline[pipeline.length - 1];
  return last && WRITE_STAGES.has(Object.keys(last)[0]) ? last : undefined;
}

interface Target {
  db: string;
  coll: string;
}

/** Runs a pipeline's final `$out` / `$merge` on its results. */
export function runWriteStage(context: CommandContext, stage: Document, results: Document[]): void {
  const [name] = Object.keys(stage);
  if (context.txn) {
    throw serverError(
      ErrorCodes.OperationNotSupportedInTransaction,
      `${name} cannot be used in a transaction`,
    );
  }
  if ((context.command.readConcern as Document | undefined)?.level === 'linearizable') {
    throw serverError(
      ErrorCodes.InvalidOptions,
      `${name} cannot be used with a 'linearizable' read concern level`,
    );
  }
  const bypass = optional<boolean>(context.command, 'bypassDocumentValidation', 'boolean') === true;
  if (name === '$out') out(context, stage.$out, results, bypass);
  else merge(context, stage.$merge, results, bypass);
}

function targetOf(context: CommandContext, spec: unknown, stage: string, field = 'coll'): Target {
  if (typeof spec === 'string') return { db: context.db, coll: spec };
  const { db = context.db, [field]: coll } = (spec ?? {}) as Document;
  if (typeof coll !== 'string' || typeof db !== 'string') {
    throw serverError(
      ErrorCodes.FailedToParse,
      `${stage} must be a string or an object with a string '${field}' (and 'db')`,
    );
  }
  return { db, coll };
}

function out(context: CommandContext, spec: unknown, results: Document[], bypass: boolean): void {
  if (spec && typeof spec === 'object' && 'timeseries' in spec) {
    throw serverError(
      ErrorCodes.NotImplemented,
      'The MongoDB stand-in does not support $out to a time-series collection',
    );
  }
  const target = targetOf(context, spec, '$out');
  const { writer, services } = context;
  const existing = writer.collection(target.db, target.coll);
  if (existing?.isView) {
    throw serverError(ErrorCodes.CommandNotSupportedOnView, `Cannot write to view ${existing.ns}`);
  }
  const tmpName = `tmp.agg_out.${new UUID().toHexString()}`;
  const tmp = writer.createCollection(target.db, tmpName, { ...existing?.options });
  try {
    const indexes = existing?.data.indexes.filter((index) => index.name !== '_id_') ?? [];
    tmp.data.addIndexes(indexes.map((index) => index.spec));
    for (const result of results) {
      const doc = storable(result);
      validateDocument(tmp, doc, { bypass });
      writer.insert(tmp, doc);
    }
  } catch (error) {
    writer.ddl(services.store.drop(target.db, tmpName));
    throw error;
  }
  writer.ddl(
    services.store.rename({ db: target.db, coll: tmpName }, { db: target.db, coll: target.coll }, true),
  );
}

/** A result as it is stored: `_id` first (generated when absent), no `$` field in `_id`. */
function storable(result: Document): Document {
  const doc = withIdFirst(result._id === undefined ? { _id: new ObjectId(), ...result } : result);
  checkStorableId(doc);
  return doc;
}

const MATCHED = ['replace', 'merge', 'keepExisting', 'fail'];
const NOT_MATCHED = ['insert', 'discard', 'fail'];

function merge(context: CommandContext, spec: unknown, results: Document[], bypass: boolean): void {
  const options = (typeof spec === 'string' ? { into: spec } : (spec ?? {})) as Document;
  const target = targetOf(context, options.into, '$merge', 'coll');
  const whenMatched = options.whenMatched ?? 'merge';
  const whenNotMatched = options.whenNotMatched ?? 'insert';
  if (!Array.isArray(whenMatched) && !MATCHED.includes(whenMatched)) {
    throw serverError(
      ErrorCodes.BadValue,
      `Enumeration value '${whenMatched}' for field 'whenMatched' is not a valid value.`,
    );
  }
  if (!NOT_MATCHED.includes(whenNotMatched)) {
    throw serverError(
      ErrorCodes.BadValue,
      `Enumeration value '${whenNotMatched}' for field 'whenNotMatched' is not a valid value.`,
    );
  }
  const on: string[] = options.on === undefined ? ['_id'] : [options.on].flat();
  const { writer } = context;
  const collection = writer.target(target.db, target.coll);
  checkUniqueOn(collection, on);
  const commandVariables = evaluateLet(context.command.let);
  const byId = on.length === 1 && on[0] === '_id';
  for (const source of results) {
    // Results without _id get one when they are matched on _id (mongod generates it too).
    const result = byId && source._id === undefined ? { _id: new ObjectId(), ...source } : source;
    const key = on.map((field) => onValue(result, field));
    const existing = writer
      .data(collection)
      .candidates(byId ? { _id: result._id } : undefined)
      .find((doc) => on.every((field, i) => keyOf(getPath(doc, field)) === keyOf(key[i])));
    if (!existing) {
      if (whenNotMatched === 'discard') continue;
      if (whenNotMatched === 'fail') {
        throw serverError(
          ErrorCodes.Location13113,
          '$merge could not find a matching document in the target collection for at least one document in the source collection',
        );
      }
      const doc = storable(result);
      validateDocument(collection, doc, { bypass });
      writer.insert(collection, doc);
      continue;
    }
    if (whenMatched === 'keepExisting') continue;
    if (whenMatched === 'fail') {
      writer.insert(collection, storable(result)); // DuplicateKey (11000), as mongod's insert gives
      continue;
    }
    // The update mongod applies: a replacement, `$set` of the result's fields, or the pipeline.
    const { _id: _ignored, ...fields } = result;
    const update =
      whenMatched === 'replace' ? { ...fields } : whenMatched === 'merge' ? { $set: fields } : whenMatched;
    // whenMatched pipelines see the result as $$new (by default) and the stage's `let` evaluated on it.
    const variables = evaluateLet(options.let ?? { new: '$$ROOT' }, 'let', commandVariables, result);
    const after = applyUpdate(existing, parseUpdate(update), { variables });
    if (sameDocument(existing, after)) continue;
    validateDocument(collection, after, { before: existing, bypass });
    writer.update(collection, existing, after, whenMatched === 'replace' ? undefined : update);
  }
}

/** mongod needs a unique index on the `on` fields (other than `_id`) to match results to documents (51183). */
function checkUniqueOn(collection: Collection, on: string[]): void {
  if (on.length === 1 && on[0] === '_id') return;
  const unique = collection.data.indexes.some((index) => {
    const fields = Object.keys(index.spec.key);
    return index.unique && fields.length === on.length && on.every((field) => fields.includes(field));
  });
  if (!unique) {
    throw serverError(
      ErrorCodes.Location51183,
      'Cannot find index to verify that join fields will be unique',
    );
  }
}

/** An `on` field of a result: present, not null, not an array (51132). */
function onValue(result: Document, field: string): unknown {
  const value = getPath(result, field);
  if (value === undefined || value === null || Array.isArray(value)) {
    throw serverError(
      ErrorCodes.Location51132,
      "$merge write error: 'on' field cannot be missing, null, undefined or an array",
    );
  }
  return value;
}
