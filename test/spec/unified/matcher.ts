/**
 * "Evaluating Matches" of the unified test format: expected values (with the `$$` operators)
 * against actual values. Root-level documents may carry extra fields; nested ones may not. Numbers
 * match by value whatever their BSON type (int, long, double).
 */
import { EJSON, type Document } from 'bson';

/** Resolves `$$matchesEntity` / `$$sessionLsid` names. */
export interface MatchContext {
  entity(id: string): unknown;
  sessionLsid(id: string): Document;
}

/** A mismatch: where it is and what differs. */
export class MatchError extends Error {
  override name = 'MatchError';
}

/**
 * Throws a {@link MatchError} naming the first path where `actual` does not match `expected`.
 * @param root true for root-level documents (operation results, command documents), which may carry extra fields.
 */
export function assertMatches(
  expected: unknown,
  actual: unknown,
  context: MatchContext,
  root = true,
  path = '$',
): void {
  if (isOperator(expected)) return matchOperator(expected, actual, context, root, path);
  // NOTE: the driver sends some documents as Maps to keep key order (createIndexes keys, sort).
  if (actual instanceof Map) actual = Object.fromEntries(actual);
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) fail(path, 'an array', actual);
    if (actual.length !== expected.length) fail(path, `an array of ${expected.length} elements`, actual);
    expected.forEach((item, i) => assertMatches(item, actual[i], context, false, `${path}[${i}]`));
    return;
  }
  if (isDocument(expected)) {
    if (!isDocument(actual)) fail(path, 'a document', actual);
    for (const [key, value] of Object.entries(expected)) {
      const child = `${path}.${key}`;
      if (isOperator(value) && '$$exists' in value) {
        if ((actual[key] !== undefined) !== value.$$exists)
          fail(child, value.$$exists ? 'a value' : 'no value', actual[key]);
        continue;
      }
      if (isOperator(value) && '$$unsetOrMatches' in value && actual[key] === undefined) continue;
      if (actual[key] === undefined) fail(child, describe(value), undefined);
      assertMatches(value, actual[key], context, false, child);
    }
    if (!root) {
      const extra = Object.keys(actual).filter((key) => actual[key] !== undefined && !(key in expected));
      if (extra.length)
        throw new MatchError(`${path}: unexpected field(s) ${extra.join(', ')} in ${describe(actual)}`);
    }
    return;
  }
  if (!valuesEqual(expected, actual)) fail(path, describe(expected), actual);
}

/**
 * Matches the documents of an iterable result (find, aggregate...): each element is a root-level
 * document, so it may carry extra fields, unlike the elements of a plain array value.
 */
export function assertMatchesIterable(expected: unknown[], actual: unknown, context: MatchContext): void {
  if (!Array.isArray(actual)) fail('$', 'an array', actual);
  if (actual.length !== expected.length) fail('$', `an array of ${expected.length} elements`, actual);
  expected.forEach((item, i) => assertMatches(item, actual[i], context, true, `$[${i}]`));
}

/** True when `actual` matches, else false (for `$$unsetOrMatches`-like probing). */
export function matches(expected: unknown, actual: unknown, context: MatchContext, root = true): boolean {
  try {
    assertMatches(expected, actual, context, root);
    return true;
  } catch (error) {
    if (error instanceof MatchError) return false;
    throw error;
  }
}

function matchOperator(
  expected: Document,
  actual: unknown,
  context: MatchContext,
  root: boolean,
  path: string,
): void {
  const [operator] = Object.keys(expected);
  const argument = expected[operator];
  switch (operator) {
    case '$$exists':
      // NOTE: reached through $$unsetOrMatches; as a field value, assertMatches checks presence itself.
      if ((actual !== undefined) !== argument) fail(path, argument ? 'a value' : 'no value', actual);
      return;
    case '$$unsetOrMatches':
      // NOTE: matched as if the operator were absent, so a root-level document stays root-level.
      if (actual !== undefined) assertMatches(argument, actual, context, root, path);
      return;
    case '$$type': {
      const wanted: string[] = Array.isArray(argument) ? argument : [argument];
      const actualTypes = bsonTypesOf(actual);
      if (!wanted.some((type) => actualTypes.includes(type)))
        fail(path, `a value of type ${wanted.join(' or ')}`, actual);
      return;
    }
    case '$$matchesEntity':
      if (!valuesEqual(context.entity(argument), actual))
        fail(path, `the value of entity ${argument}`, actual);
      return;
    case '$$matchesHexBytes': {
      const bytes = actual as { buffer?: Uint8Array } | Uint8Array;
      const hex = Buffer.from(bytes instanceof Uint8Array ? bytes : (bytes.buffer ?? [])).toString('hex');
      if (hex !== String(argument).toLowerCase()) fail(path, `bytes ${argument}`, actual);
      return;
    }
    case '$$sessionLsid':
      if (!valuesEqual(context.sessionLsid(argument), actual))
        fail(path, `the lsid of session ${argument}`, actual);
      return;
    case '$$lte':
      if (!(Number(actual) <= Number(argument))) fail(path, `a number <= ${argument}`, actual);
      return;
    default:
      throw new MatchError(`${path}: unsupported match operator ${operator}`);
  }
}

/** A document whose single key is a `$$` operator. */
function isOperator(value: unknown): value is Document {
  if (!isDocument(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0].startsWith('$$');
}

function isDocument(value: unknown): value is Document {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Date) &&
    !('_bsontype' in value)
  );
}

/** The unified format's type names that describe a value (numbers may be several after promotion). */
export function bsonTypesOf(value: unknown): string[] {
  if (value === null) return ['null'];
  if (value === undefined) return ['undefined'];
  if (typeof value === 'string') return ['string'];
  if (typeof value === 'boolean') return ['bool'];
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return ['double', 'number'];
    return Math.abs(value) < 2 ** 31 ? ['int', 'long', 'double', 'number'] : ['long', 'double', 'number'];
  }
  if (typeof value === 'bigint') return ['long', 'number'];
  if (Array.isArray(value)) return ['array'];
  if (value instanceof Date) return ['date'];
  if (value instanceof RegExp) return ['regex'];
  const bsontype = (value as { _bsontype?: string })._bsontype;
  const byBsonType: Record<string, string[]> = {
    Int32: ['int', 'number'],
    Long: ['long', 'number'],
    Double: ['double', 'number'],
    Decimal128: ['decimal', 'number'],
    ObjectId: ['objectId'],
    Binary: ['binData'],
    Timestamp: ['timestamp'],
    BSONRegExp: ['regex'],
    Code: ['javascript'],
    BSONSymbol: ['symbol'],
    DBRef: ['dbPointer'],
    MinKey: ['minKey'],
    MaxKey: ['maxKey'],
  };
  if (bsontype) return byBsonType[bsontype] ?? [bsontype];
  return ['object'];
}

function numericValue(value: unknown): number | bigint | undefined {
  if (typeof value === 'number' || typeof value === 'bigint') return value;
  const bsontype = (value as { _bsontype?: string } | null)?._bsontype;
  if (bsontype === 'Int32' || bsontype === 'Double') return (value as { value: number }).value;
  if (bsontype === 'Long') return BigInt((value as { toString(): string }).toString());
  return undefined;
}

/** Equality of two non-document values (numbers by value, BSON values by their canonical form). */
function valuesEqual(expected: unknown, actual: unknown): boolean {
  const a = numericValue(expected);
  const b = numericValue(actual);
  if (a !== undefined && b !== undefined) {
    if (typeof a === 'bigint' || typeof b === 'bigint') {
      return Number.isInteger(Number(a)) && Number.isInteger(Number(b)) && BigInt(a) === BigInt(b);
    }
    return a === b;
  }
  if (expected === actual) return true;
  if (expected === null || actual === null || typeof expected !== 'object' || typeof actual !== 'object')
    return false;
  return canonical(expected) === canonical(actual);
}

function canonical(value: unknown): string {
  return EJSON.stringify(value as Document, { relaxed: false });
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  try {
    return EJSON.stringify(value as Document, { relaxed: true });
  } catch {
    return String(value);
  }
}

function fail(path: string, wanted: string, actual: unknown): never {
  throw new MatchError(`${path}: expected ${wanted}, got ${describe(actual)}`);
}
