/**
 * A small KeyString-like codec: BSON values to bytes whose unsigned byte order follows the value
 * order (the way mongod encodes resume tokens), and back.
 *
 * It reuses mongod's type bytes (CType) and integer layout so tokens look familiar to operators
 * (`82` + 8-byte timestamp, `2B04` for the integer 2, `6E` for false ...). It is not byte-identical
 * to mongod: type information lost by the order-preserving form (int32 vs int64 vs integral double)
 * is not kept in separate TypeBits; integers decode as Int32 when they fit, else Long.
 */
import { Binary, Double, Int32, Long, ObjectId, Timestamp, type Document } from 'bson';

/** mongod's KeyString type bytes. */
export const CType = {
  MinKey: 10,
  Undefined: 15,
  Nullish: 20,
  Numeric: 30,
  NumericNegativeLargeMagnitude: 31,
  /** kNumericNegative8ByteInt (32) ... kNumericNegative1ByteInt (39). */
  NumericNegative8ByteInt: 32,
  NumericNegative1ByteInt: 39,
  NumericZero: 41,
  NumericPositive1ByteInt: 43,
  NumericPositive8ByteInt: 50,
  NumericPositiveLargeMagnitude: 51,
  StringLike: 60,
  Object: 70,
  Array: 80,
  BinData: 90,
  OID: 100,
  BoolFalse: 110,
  BoolTrue: 111,
  Date: 120,
  Timestamp: 130,
  MaxKey: 240,
  End: 4,
} as const;

/** Thrown by {@link KeyStringReader} on bytes it cannot decode. */
export class KeyStringError extends Error {
  override name = 'KeyStringError';
}

const INT64_MAX = (1n << 63n) - 1n;

/** Appends order-preserving encodings of values to a growing byte buffer. */
export class KeyStringWriter {
  private readonly bytes: number[] = [];

  /** The encoded bytes so far. */
  toBuffer(): Buffer {
    return Buffer.from(this.bytes);
  }

  /** Upper-case hex, as mongod prints `_data`. */
  toHex(): string {
    return this.toBuffer().toString('hex').toUpperCase();
  }

  byte(value: number): this {
    this.bytes.push(value & 0xff);
    return this;
  }

  raw(data: Uint8Array): this {
    for (const b of data) this.bytes.push(b);
    return this;
  }

  timestamp(ts: Timestamp): this {
    this.byte(CType.Timestamp);
    return this.uint32(ts.t).uint32(ts.i);
  }

  /** An integer in mongod's layout: type byte by magnitude length, then (|n| << 1) big-endian. */
  integer(value: number | bigint): this {
    if (typeof value === 'number' && value >= 0 && value < 0x40000000) return this.smallInteger(value);
    let n = BigInt(value);
    if (n === 0n) return this.byte(CType.NumericZero);
    const negative = n < 0n;
    if (negative) n = -n;
    if (n > INT64_MAX) throw new KeyStringError(`integer out of int64 range: ${value}`);
    const shifted = n << 1n;
    let length = 1;
    while (shifted >> BigInt(8 * length) !== 0n) length++;
    this.byte(
      negative ? CType.NumericNegative1ByteInt - (length - 1) : CType.NumericPositive1ByteInt + (length - 1),
    );
    for (let i = length - 1; i >= 0; i--) {
      const b = Number((shifted >> BigInt(8 * i)) & 0xffn);
      this.byte(negative ? ~b : b);
    }
    return this;
  }

  /** {@link integer} for 0 <= value < 2^30 without BigInt (token prefixes are written per event). */
  private smallInteger(value: number): this {
    if (value === 0) return this.byte(CType.NumericZero);
    const shifted = value * 2;
    let length = 1;
    while (shifted >= 2 ** (8 * length)) length++;
    this.byte(CType.NumericPositive1ByteInt + (length - 1));
    for (let i = length - 1; i >= 0; i--) this.byte(Math.floor(shifted / 2 ** (8 * i)) & 0xff);
    return this;
  }

  /**
   * A non-integral double (or NaN / infinity).
   * NOTE: ordered among doubles (IEEE bits with the sign trick) but not interleaved with integers;
   * resume-token order never depends on it.
   */
  double(value: number): this {
    const buffer = Buffer.alloc(8);
    buffer.writeDoubleBE(value);
    const negative = (buffer[0] & 0x80) !== 0;
    for (let i = 0; i < 8; i++)
      buffer[i] = negative ? ~buffer[i] & 0xff : i === 0 ? buffer[i] | 0x80 : buffer[i];
    this.byte(negative ? CType.NumericNegativeLargeMagnitude : CType.NumericPositiveLargeMagnitude);
    return this.raw(buffer);
  }

  bool(value: boolean): this {
    return this.byte(value ? CType.BoolTrue : CType.BoolFalse);
  }

  string(value: string): this {
    this.byte(CType.StringLike);
    return this.cstringEscaped(Buffer.from(value, 'utf8'));
  }

  binary(value: Binary): this {
    const data = value.buffer.subarray(0, value.position);
    this.byte(CType.BinData);
    if (data.length < 0xff) this.byte(data.length);
    else this.byte(0xff).uint32(data.length);
    return this.byte(value.sub_type).raw(data);
  }

  /** Any supported BSON value, dispatched on its type. */
  value(value: unknown): this {
    if (value === null) return this.byte(CType.Nullish);
    if (value === undefined) return this.byte(CType.Undefined);
    if (typeof value === 'boolean') return this.bool(value);
    if (typeof value === 'string') return this.string(value);
    if (typeof value === 'number') return Number.isInteger(value) ? this.integer(value) : this.double(value);
    if (typeof value === 'bigint') return this.integer(value);
    if (value instanceof Date) return this.byte(CType.Date).int64(BigInt(value.getTime()));
    if (Array.isArray(value)) {
      this.byte(CType.Array);
      for (const item of value) this.value(item);
      return this.byte(0);
    }
    const bsontype = (value as { _bsontype?: string })._bsontype;
    switch (bsontype) {
      case 'Int32':
        return this.integer((value as Int32).value);
      case 'Double':
        return this.value((value as Double).value);
      case 'Long':
        return this.integer(BigInt((value as Long).toString()));
      case 'Timestamp':
        return this.timestamp(value as Timestamp);
      case 'ObjectId':
        return this.byte(CType.OID).raw((value as ObjectId).id);
      case 'Binary':
        return this.binary(value as Binary);
      case 'MinKey':
        return this.byte(CType.MinKey);
      case 'MaxKey':
        return this.byte(CType.MaxKey);
      case undefined:
        return this.object(value as Document);
      default:
        throw new KeyStringError(`cannot encode BSON type ${bsontype} in a resume token`);
    }
  }

  /** A document: per field, the value's type class, the name, the value; then 0. */
  object(doc: Document): this {
    this.byte(CType.Object);
    for (const [name, item] of Object.entries(doc)) {
      if (item === undefined) continue;
      const encoded = new KeyStringWriter().value(item).toBuffer();
      this.byte(typeClassOf(encoded[0]));
      this.cstringEscaped(Buffer.from(name, 'utf8'));
      this.raw(encoded);
    }
    return this.byte(0);
  }

  private uint32(value: number): this {
    return this.byte(value >>> 24)
      .byte(value >>> 16)
      .byte(value >>> 8)
      .byte(value);
  }

  private int64(value: bigint): this {
    const unsigned = BigInt.asUintN(64, value) ^ (1n << 63n);
    for (let i = 7; i >= 0; i--) this.byte(Number((unsigned >> BigInt(8 * i)) & 0xffn));
    return this;
  }

  /** Bytes with 0x00 escaped as 0x00 0xFF, then a 0x00 terminator (mongod's string layout). */
  private cstringEscaped(data: Uint8Array): this {
    for (const b of data) {
      this.byte(b);
      if (b === 0) this.byte(0xff);
    }
    return this.byte(0);
  }
}

/** The generic type byte mongod writes before a field name (all numbers share kNumeric). */
function typeClassOf(probe: number): number {
  if (probe >= CType.Numeric && probe < CType.StringLike) return CType.Numeric;
  if (probe === CType.BoolTrue) return CType.BoolFalse;
  return probe;
}

/** Reads values written by {@link KeyStringWriter}. */
export class KeyStringReader {
  private offset = 0;

  constructor(private readonly data: Buffer) {}

  get done(): boolean {
    return this.offset >= this.data.length;
  }

  peek(): number {
    if (this.done) throw new KeyStringError('unexpected end of data');
    return this.data[this.offset];
  }

  byte(): number {
    const b = this.peek();
    this.offset++;
    return b;
  }

  expect(value: number, what: string): void {
    const b = this.byte();
    if (b !== value)
      throw new KeyStringError(
        `expected ${what} (0x${hex(value)}) at byte ${this.offset - 1}, found 0x${hex(b)}`,
      );
  }

  timestamp(): Timestamp {
    this.expect(CType.Timestamp, 'a timestamp');
    const t = this.uint32();
    return new Timestamp({ t, i: this.uint32() });
  }

  /** An integer written by {@link KeyStringWriter.integer}. */
  integer(): bigint {
    const type = this.byte();
    if (type === CType.NumericZero) return 0n;
    const positive = type >= CType.NumericPositive1ByteInt && type <= CType.NumericPositive8ByteInt;
    const negative = type >= CType.NumericNegative8ByteInt && type <= CType.NumericNegative1ByteInt;
    if (!positive && !negative)
      throw new KeyStringError(`expected an integer at byte ${this.offset - 1}, found 0x${hex(type)}`);
    const length = positive
      ? type - CType.NumericPositive1ByteInt + 1
      : CType.NumericNegative1ByteInt - type + 1;
    let shifted = 0n;
    for (let i = 0; i < length; i++)
      shifted = (shifted << 8n) | BigInt(negative ? ~this.byte() & 0xff : this.byte());
    const magnitude = shifted >> 1n;
    return negative ? -magnitude : magnitude;
  }

  bool(): boolean {
    const b = this.byte();
    if (b !== CType.BoolFalse && b !== CType.BoolTrue)
      throw new KeyStringError(`expected a boolean, found 0x${hex(b)}`);
    return b === CType.BoolTrue;
  }

  binary(): Binary {
    this.expect(CType.BinData, 'binary data');
    let length = this.byte();
    if (length === 0xff) length = this.uint32();
    const subType = this.byte();
    return new Binary(Buffer.from(this.take(length)), subType);
  }

  /** Any value written by {@link KeyStringWriter.value}. */
  value(): unknown {
    const type = this.peek();
    switch (type) {
      case CType.Nullish:
        this.offset++;
        return null;
      case CType.Undefined:
        this.offset++;
        return undefined;
      case CType.MinKey:
      case CType.MaxKey:
        throw new KeyStringError('MinKey/MaxKey are not decoded');
      case CType.BoolFalse:
      case CType.BoolTrue:
        return this.bool();
      case CType.StringLike:
        this.offset++;
        return this.cstringEscaped();
      case CType.Object:
        return this.object();
      case CType.Array: {
        this.offset++;
        const items: unknown[] = [];
        while (this.peek() !== 0) items.push(this.value());
        this.offset++;
        return items;
      }
      case CType.BinData:
        return this.binary();
      case CType.OID:
        this.offset++;
        return new ObjectId(Buffer.from(this.take(12)));
      case CType.Date:
        this.offset++;
        return new Date(Number(this.int64()));
      case CType.Timestamp:
        return this.timestamp();
      case CType.NumericNegativeLargeMagnitude:
      case CType.NumericPositiveLargeMagnitude:
        return this.double();
      default: {
        const n = this.integer();
        return n >= -(2n ** 31n) && n < 2n ** 31n ? Number(n) : Long.fromBigInt(n);
      }
    }
  }

  object(): Document {
    this.expect(CType.Object, 'a document');
    const doc: Document = {};
    while (this.peek() !== 0) {
      this.byte(); // type class; the value carries its own type byte
      doc[this.cstringEscaped()] = this.value();
    }
    this.offset++;
    return doc;
  }

  private double(): number {
    const negative = this.byte() === CType.NumericNegativeLargeMagnitude;
    const buffer = Buffer.from(this.take(8));
    for (let i = 0; i < 8; i++)
      buffer[i] = negative ? ~buffer[i] & 0xff : i === 0 ? buffer[i] & 0x7f : buffer[i];
    return buffer.readDoubleBE();
  }

  private uint32(): number {
    return Buffer.from(this.take(4)).readUInt32BE();
  }

  private int64(): bigint {
    return BigInt.asIntN(64, Buffer.from(this.take(8)).readBigUInt64BE() ^ (1n << 63n));
  }

  private take(length: number): Buffer {
    if (this.offset + length > this.data.length) throw new KeyStringError('unexpected end of data');
    const slice = this.data.subarray(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }

  private cstringEscaped(): string {
    const out: number[] = [];
    for (;;) {
      const b = this.byte();
      if (b !== 0) out.push(b);
      else if (!this.done && this.peek() === 0xff) {
        this.offset++;
        out.push(0);
      } else return Buffer.from(out).toString('utf8');
    }
  }
}

const hex = (b: number) => b.toString(16).toUpperCase().padStart(2, '0');
