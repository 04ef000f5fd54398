/**
 * What mongod checks on a document it stores beyond indexes: a collection's `validator` (with
 * `validationLevel` and `validationAction`, skipped by `bypassDocumentValidation`), and no
 * `$`-prefixed field inside `_id`.
 *
 * A failing document gets DocumentValidationFailure (121) with mongod 5.0+'s `errInfo`:
 * `{ failingDocumentId, details }`, the details naming the unsatisfied clauses (simplified: one
 * level, the operator, its spec and the value it saw). `$jsonSchema` validators are refused when
 * the collection is created or modified: the stand-in does not evaluate JSON Schema.
 */
import type { Document } from 'bson';
import { ErrorCodes, serverError } from '../errors/server-error';
import type { Collection } from './collection';
import { compileFilter } from './query';
import { bsonTypeName, getPath, isOperatorObject } from './values';

const LEVELS = ['off', 'strict', 'moderate'];
const ACTIONS = ['error', 'warn'];
/** Query operators mongod refuses in a validator. */
const FORBIDDEN = ['$near', '$nearSphere', '$text', '$where'];

/** Checks the validation options of create / collMod as mongod does; refuses `$jsonSchema`. */
export function checkValidationOptions(options: Document): void {
  for (const [field, values] of [
    ['validationLevel', LEVELS],
    ['validationAction', ACTIONS],
  ] as const) {
    const value = options[field];
    if (value !== undefined && !values.includes(value)) {
      throw serverError(
        ErrorCodes.BadValue,
        `Enumeration value '${String(value)}' for field '${field}' is not a valid value.`,
      );
    }
  }
  const { validator } = options;
  if (validator === undefined) return;
  if (!validator || typeof validator !== 'object' || Array.isArray(validator)) {
    throw serverError(
      ErrorCodes.TypeMismatch,
      `BSON field 'validator' is the wrong type '${bsonTypeName(validator)}', expected type 'object'`,
    );
  }
  const operators = new Set<string>();
  collectKeys(validator, operators);
  if (operators.has('$jsonSchema')) {
    throw serverError(
      ErrorCodes.NotImplemented,
      'The MongoDB stand-in does not support $jsonSchema validators; use query operators',
    );
  }
  const forbidden = FORBIDDEN.find((operator) => operators.has(operator));
  if (forbidden) {
    throw serverError(ErrorCodes.QueryFeatureNotAllowed, `${forbidden} is not allowed in this context`);
  }
  compileFilter(validator as Document); // BadValue for an invalid query, as mongod
}

/** Every field name of a document, at any depth. */
function collectKeys(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) for (const element of value) collectKeys(element, into);
  else if (value && typeof value === 'object' && !('_bsontype' in value) && !(value instanceof Date)) {
    for (const [key, nested] of Object.entries(value as Document)) {
      into.add(key);
      collectKeys(nested, into);
    }
  }
}

/**
 * Throws DocumentValidationFailure (121) when `after` violates the collection's validator, unless
 * validation is bypassed, off, only warns, or (moderate) the update's `before` already violated it.
 */
export function validateDocument(
  collection: Collection,
  after: Document,
  { before, bypass }: { before?: Document; bypass?: boolean } = {},
): void {
  const { validator, validationLevel = 'strict', validationAction = 'error' } = collection.options;
  if (!validator || bypass || validationLevel === 'off') return;
  if (!Object.keys(validator as Document).length) return;
  const matches = compileFilter(validator as Document);
  if (matches(after)) return;
  // moderate: updates of documents that already fail validation are not checked.
  if (validationLevel === 'moderate' && before && !matches(before)) return;
  // warn: mongod logs the failure and stores the document.
  if (validationAction === 'warn') return;
  throw serverError(ErrorCodes.DocumentValidationFailure, 'Document failed validation', [], {
    errInfo: { failingDocumentId: after._id, details: explain(validator as Document, after) },
  });
}

/** The details of a failed validation: the clause that failed, or `$and` of the failing clauses. */
function explain(validator: Document, doc: Document): Document {
  const clauses = Object.entries(validator).map(([field, condition]) => ({ [field]: condition }));
  const failing = clauses
    .map((clause, index) => ({ index, clause }))
    .filter(({ clause }) => !compileFilter(clause)(doc));
  if (clauses.length === 1) return describe(clauses[0], doc);
  return {
    operatorName: '$and',
    clausesNotSatisfied: failing.map(({ index, clause }) => ({ index, details: describe(clause, doc) })),
  };
}

function describe(clause: Document, doc: Document): Document {
  const [[field, condition]] = Object.entries(clause);
  if (field.startsWith('$')) {
    return { operatorName: field, specifiedAs: clause, reason: 'expression did not match' };
  }
  const operatorName = isOperatorObject(condition) ? Object.keys(condition as Document)[0] : '$eq';
  const value = getPath(doc, field);
  if (value === undefined) return { operatorName, specifiedAs: clause, reason: 'field was missing' };
  const reason = operatorName === '$type' ? 'type did not match' : 'comparison failed';
  return {
    operatorName,
    specifiedAs: clause,
    reason,
    consideredValue: value,
    ...(operatorName === '$type' ? { consideredType: bsonTypeName(value) } : {}),
  };
}

/** mongod refuses `$`-prefixed field names inside `_id` (elsewhere 5.0+ stores them); DBRef fields excepted. */
export function checkStorableId(doc: Document): void {
  const dollar = dollarField(doc._id);
  if (dollar) {
    throw serverError(
      ErrorCodes.DollarPrefixedFieldName,
      `_id fields may not contain '$'-prefixed fields: ${dollar} is not valid for storage.`,
    );
  }
}

const DBREF_FIELDS = new Set(['$ref', '$id', '$db']);

function dollarField(value: unknown): string | undefined {
  if (Array.isArray(value)) {
    for (const element of value) {
      const found = dollarField(element);
      if (found) return found;
    }
    return undefined;
  }
  if (!value || typeof value !== 'object' || '_bsontype' in value || value instanceof Date) return undefined;
  for (const [key, nested] of Object.entries(value as Document)) {
    if (key.startsWith('$') && !DBREF_FIELDS.has(key)) return key;
    const found = dollarField(nested);
    if (found) return found;
  }
  return undefined;
}
