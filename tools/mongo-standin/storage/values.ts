/**
 * BSON values as the stand-in stores them, and the few operations on them mingo does not cover:
 * identity keys (for `_id` and unique indexes), dotted paths, shell-style formatting for error
 * messages.
 *
 * Types are stored as sent, as mongod does (see typed-values.ts): every decode goes through
 * TYPED_DESERIALIZE_OPTIONS and toStored(), so an int64 stays a Long and a whole double a Double.
 */
import {
  Binary,
  BSONRegExp,
  Decimal128,
  Double,
  deserialize,
  Long,
  ObjectId,
  serialize,
  Timestamp,
  type DeserializeOptions,
  type Document,
} from 'bson';
import { canonicalNumeric, isNumeric } from './numeric';
import { isInt32Number, toStored, TYPED_DESERIALIZE_OPTIONS } from './typed-values';

/** Options for every BSON document the stand-in decodes (then toStored(), see typed-values.ts). */
export const BSON_DESERIALIZE_OPTIONS: DeserializeOptions = TYPED_DESERIALIZE_OPTIONS;

/** Decodes BSON into the stored form (types as sent). */
export function decodeDocument(bytes: Uint8Array): Document {
  return toStored(deserialize(bytes, BSON_DESERIALIZE_OPTIONS));
}

/** A deep copy that keeps BSON types (and normalises values as on the wire). */
export function cloneDocument<T extends Document>(doc: T): T {
  return decodeDocument(serialize(doc)) as T;
}

/** True when two documents have the same BSON bytes (field order included). */
export function sameDocument(a: Document, b: Document): boolean {
  return Buffer.from(serialize(a)).equals(Buffer.from(serialize(b)));
}

/**
 * A string that is equal for values mongod considers equal in an index: numbers of any width
 * compare by value, objects by field order and values.
 */
export function keyOf(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  if (isNumeric(value)) return `n:${canonicalNumeric(value)}`;
  if (typeof value === 'string') return `s:${JSON.stringify(value)}`;
  if (typeof value === 'boolean') return `b:${value}`;
  if (value instanceof ObjectId) return `o:${value.toHexString()}`;
  if (value instanceof Date) return `d:${value.getTime()}`;
  if (value instanceof Timestamp) return `t:${value.toString()}`;
  if (value instanceof Binary) return `x:${value.sub_type}:${Buffer.from(value.buffer).toString('base64')}`;
  if (value instanceof RegExp) return `r:${value.source}/${value.flags}`;
  if (value instanceof BSONRegExp) return `r:${value.pattern}/${value.options}`;
  if (Array.isArray(value)) return `[${value.map(keyOf).join(',')}]`;
  if (typeof value === 'object') {
    const bsonType = (value as { _bsontype?: string })._bsontype;
    if (bsonType) return `${bsonType}:${JSON.stringify(value)}`;
    return `{${Object.entries(value as Document)
      .map(([k, v]) => `${JSON.stringify(k)}:${keyOf(v)}`)
      .join(',')}}`;
  }
  return `?:${String(value)}`;
}

/** `{ $gt: 1 }`-like: an object whose first key is an operator (BSON values and plain documents are not). */
export function isOperatorObject(value: unknown): boolean {
  if (
    !value ||
    typeof value !== 'object' ||
    Array.isArray(value) ||
    value instanceof Date ||
    value instanceof RegExp
  )
    return false;
  if ('_bsontype' in value) return false;
  return Object.keys(value).some((key) => key.startsWith('$'));
}

/** The value at a dotted path (numeric components index arrays); undefined when absent. */
export function getPath(doc: unknown, path: string): unknown {
  let current: unknown = doc;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Document)[part];
  }
  return current;
}

/** Sets the value at a dotted path, creating intermediate objects. */
export function setPath(doc: Document, path: string, value: unknown): void {
  const parts = path.split('.');
  let current: Document = doc;
  for (const part of parts.slice(0, -1)) {
    if (current[part] === null || typeof current[part] !== 'object') current[part] = {};
    current = current[part];
  }
  current[parts[parts.length - 1]] = value;
}

/** Removes the field at a dotted path; an array element is set to null instead, as mongod does. */
export function unsetPath(doc: Document, path: string): void {
  const parts = path.split('.');
  const last = parts.pop() as string;
  let current: unknown = doc;
  for (const part of parts) {
    current = (current as Document)[part];
    if (current === null || typeof current !== 'object') return;
  }
  if (!Array.isArray(current)) delete (current as Document)[last];
  else if (/^\d+$/.test(last) && Number(last) < current.length) current[Number(last)] = null;
}

/**
 * All values a dotted path reaches, descending into arrays the way mongod's index keys do: a
 * multikey field yields one value per element. An absent field yields `null`.
 */
export function valuesAtPath(doc: unknown, path: string): unknown[] {
  const [head, ...rest] = path.split('.');
  if (doc === null || typeof doc !== 'object') return [null];
  const value = (doc as Document)[head];
  if (rest.length === 0) return Array.isArray(value) ? (value.length ? value : [undefined]) : [value ?? null];
  if (Array.isArray(value)) {
    const index = Number(rest[0]);
    if (Number.isInteger(index) && String(index) === rest[0]) {
      return valuesAtPath(value[index], rest.slice(1).join('.'));
    }
    return value.flatMap((element) => valuesAtPath(element, rest.join('.')));
  }
  return valuesAtPath(value, rest.join('.'));
}

/** A value written the way the mongo shell prints it, as mongod puts it into error messages. */
export function formatValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof ObjectId) return `ObjectId('${value.toHexString()}')`;
  if (value instanceof Date) return `new Date(${value.getTime()})`;
  if (value instanceof Long) return value.toString();
  if (value instanceof Double) return String(value.value);
  if (value instanceof Decimal128) return `${value.toString()}`;
  if (value instanceof Timestamp) return `Timestamp(${value.t}, ${value.i})`;
  if (value instanceof Binary) {
    return `BinData(${value.sub_type}, ${Buffer.from(value.buffer).toString('hex').toUpperCase()})`;
  }
  if (Array.isArray(value)) return `[ ${value.map(formatValue).join(', ')} ]`;
  if (typeof value === 'object') return formatDocument(value as Document);
  return String(value);
}

/** `{ a: 1, b: "x" }`, shell style. */
export function formatDocument(doc: Document): string {
  const entries = Object.entries(doc).map(([k, v]) => `${k}: ${formatValue(v)}`);
  return entries.length ? `{ ${entries.join(', ')} }` : '{}';
}

/** mongod's type names, for TypeMismatch messages. */
export function bsonTypeName(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number') return isInt32Number(value) ? 'int' : 'double';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'bool';
  if (Array.isArray(value)) return 'array';
  if (value instanceof Date) return 'date';
  if (value instanceof RegExp) return 'regex';
  const bsonType = (value as { _bsontype?: string })._bsontype;
  const names: Record<string, string> = {
    ObjectId: 'objectId',
    Long: 'long',
    Double: 'double',
    BSONRegExp: 'regex',
    Decimal128: 'decimal',
    Binary: 'binData',
    Timestamp: 'timestamp',
  };
  return (bsonType && names[bsonType]) ?? 'object';
}
