/**
 * Random documents holding every BSON type, shaped as the relay receives them: built from a seeded
 * generator, then BSON.serialize + BSON.deserialize with the relay's EXACT_BSON options (what the
 * driver does with a change event). For the differential spec of canonical-ejson.ts.
 */
import {
  Binary,
  BSON,
  BSONRegExp,
  BSONSymbol,
  Code,
  DBRef,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp,
  type Document,
} from 'bson';

/** The relay's decode options (relay/stream-pipeline.ts EXACT_BSON), repeated to keep this folder self-contained. */
export const DRIVER_DECODE = {
  promoteLongs: false,
  promoteValues: false,
  promoteBuffers: false,
  bsonRegExp: true,
} as const;

/** What the driver hands the relay for `doc`. */
export function asDelivered(doc: Document): Document {
  return BSON.deserialize(BSON.serialize(doc), DRIVER_DECODE);
}

type Random = () => number;

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)];
const int = (random: Random, min: number, max: number): number =>
  min + Math.floor(random() * (max - min + 1));

/** Characters JSON escaping cares about, plus multi-byte and astral ones (valid UTF-8 only: BSON re-encodes strings). */
const CHARS = [
  'a',
  'Z',
  '0',
  ' ',
  '"',
  '\\',
  '/',
  '\n',
  '\r',
  '\t',
  '\b',
  '\f',
  '\u0000',
  '\u001f',
  '\u007f',
  'é',
  '€',
  '\u2028',
  '\u2029',
  '\ufeff',
  '😀',
  '$',
  '.',
  '<',
  '>',
  '&',
  "'",
] as const;

/** BSON forbids NUL in field names and regex patterns. */
const withoutNul = (s: string): string => s.replaceAll('\u0000', '0');

function randomString(random: Random, maxLength = 12): string {
  let s = '';
  const length = int(random, 0, maxLength);
  for (let i = 0; i < length; i++)
    s += random() < 0.6 ? String.fromCharCode(int(random, 0x61, 0x7a)) : pick(random, CHARS);
  return s;
}

const SPECIAL_DOUBLES = [
  0,
  -0,
  1,
  -1,
  0.1,
  1.5,
  NaN,
  Infinity,
  -Infinity,
  1e21,
  1e20,
  -1e21,
  1e-7,
  5e-324,
  Number.MAX_VALUE,
  Number.MIN_SAFE_INTEGER,
  2 ** 53,
  2 ** 31,
  -(2 ** 31),
  123456789.125,
] as const;

function randomDouble(random: Random): number {
  const r = random();
  if (r < 0.4) return pick(random, SPECIAL_DOUBLES);
  if (r < 0.6) return int(random, -1e6, 1e6);
  if (r < 0.8) return (random() - 0.5) * 10 ** int(random, -30, 30);
  return new Float64Array(
    new Uint32Array([int(random, 0, 0xffffffff), int(random, 0, 0xffffffff)]).buffer,
  )[0];
}

const DECIMALS = [
  '0',
  '-0',
  '1.0',
  '12.340',
  '-1.23E+400',
  '1E-6176',
  '9.999999999999999999999999999999999E+6144',
  'NaN',
  'Infinity',
  '-Infinity',
  '0.000001',
  '0.0000001',
  '1E+3',
  '123456789012345678901234567890',
] as const;

function randomDecimal(random: Random): Decimal128 {
  if (random() < 0.5) return Decimal128.fromString(pick(random, DECIMALS));
  return Decimal128.fromString(`${int(random, -99999, 99999)}.${int(random, 0, 99)}E${int(random, -20, 20)}`);
}

const BINARY_SUBTYPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 0x80, 0xff] as const;

function randomBinary(random: Random): Binary {
  if (random() < 0.1) return Binary.fromInt8Array(new Int8Array([1, -2, 3].slice(0, int(random, 0, 3))));
  const bytes = Buffer.alloc(int(random, 0, 20));
  for (let i = 0; i < bytes.length; i++) bytes[i] = int(random, 0, 255);
  return new Binary(bytes, pick(random, BINARY_SUBTYPES));
}

/** Dates before 1970 and after 9999 included: both are written as $numberLong in canonical mode. */
function randomDate(random: Random): Date {
  const ms = pick(
    random,
    [0, -1, 1, 253402300799999, 253402300800000, 253402318800000, -62198755200000, 8.64e15, -8.64e15],
  );
  return new Date(random() < 0.5 ? ms : int(random, -4e12, 4e13));
}

const LEAF_MAKERS: readonly ((random: Random) => unknown)[] = [
  (r) => randomString(r, 40),
  (r) => new Int32(int(r, -0x80000000, 0x7fffffff)),
  (r) => new Double(randomDouble(r)),
  (r) =>
    pick(r, [
      Long.fromNumber(int(r, -1e9, 1e9)),
      Long.MAX_VALUE,
      Long.MIN_VALUE,
      Long.fromString('9007199254740993'),
    ]),
  randomDecimal,
  () => new ObjectId(),
  randomBinary,
  (r) => new Timestamp({ t: int(r, 0, 0xffffffff), i: int(r, 0, 0xffffffff) }),
  randomDate,
  (r) => new BSONRegExp(withoutNul(randomString(r, 8)), pick(r, ['', 'i', 'imsx', 'ilmsux', 'xu', 'l'])),
  (r) => new Code(randomString(r)),
  (r) => new Code(randomString(r), { x: new Int32(int(r, 0, 9)), s: randomString(r) }),
  (r) =>
    new DBRef(
      randomString(r, 6) || 'coll',
      new ObjectId(),
      r() < 0.5 ? undefined : 'db',
      r() < 0.5 ? {} : { extra: new Int32(1) },
    ),
  () => new MinKey(),
  () => new MaxKey(),
  (r) => new BSONSymbol(randomString(r)),
  (r) => r() < 0.5,
  () => null,
  () => undefined,
];

/** Field names: plain, escaped, unicode, integer-like (JS puts those first) and $-prefixed. */
function randomKey(random: Random): string {
  const r = random();
  if (r < 0.6)
    return pick(random, ['_id', 'a', 'seq', 'status', 'payload', 'items', 'k' + int(random, 0, 99)]);
  if (r < 0.75) return String(int(random, 0, 20));
  if (r < 0.85) return withoutNul('$' + randomString(random, 5));
  return withoutNul(randomString(random, 8)) || 'empty';
}

function randomValue(random: Random, depth: number): unknown {
  const r = random();
  if (depth < 4 && r < 0.12) return randomDocument(random, depth + 1);
  if (depth < 4 && r < 0.2)
    return Array.from({ length: int(random, 0, 5) }, () => randomValue(random, depth + 1));
  return pick(random, LEAF_MAKERS)(random);
}

function randomDocument(random: Random, depth: number): Document {
  const doc: Document = {};
  const size = int(random, 0, 8);
  for (let i = 0; i < size; i++) doc[randomKey(random)] = randomValue(random, depth);
  return doc;
}

/** One random change-event-like document, as the driver delivers it. */
export function randomDeliveredDocument(random: Random): Document {
  return asDelivered({
    _id: { _data: randomString(random, 60) },
    operationType: pick(random, ['insert', 'update', 'replace', 'delete']),
    clusterTime: new Timestamp({ t: int(random, 0, 0xffffffff), i: int(random, 0, 100) }),
    fullDocument: randomDocument(random, 0),
  });
}
