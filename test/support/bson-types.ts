/**
 * One document holding every BSON type issue 15 (item 11) lists, for the specs that check types are
 * kept exactly: the codec, the MongoDB stand-in, and MongoDB -> relay -> Kafka -> consumer.
 */
import {
  Binary,
  BSONRegExp,
  Code,
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

export function everyBsonType(): Document {
  return {
    _id: new ObjectId(),
    int32: new Int32(7),
    longSmall: Long.fromNumber(42),
    longLarge: Long.fromString('9007199254740993'),
    doubleWhole: new Double(1),
    doubleFraction: new Double(2.5),
    negativeZero: new Double(-0),
    notANumber: new Double(NaN),
    decimal: Decimal128.fromString('12.340'),
    binary0: new Binary(Buffer.from('raw bytes'), 0),
    binary4: new Binary(Buffer.from('0123456789abcdef'), 4),
    before1970: new Date(-86_400_000 * 365),
    timestamp: new Timestamp({ t: 1_700_000_000, i: 3 }),
    // Options JavaScript lacks (x, l): only a BSONRegExp keeps them.
    regex: new BSONRegExp('^a.b$', 'imsxlu'),
    // Options a JS RegExp keeps too.
    regexJs: new BSONRegExp('x', 'im'),
    min: new MinKey(),
    max: new MaxKey(),
    code: new Code('function () { return 1; }'),
    nested: { ids: [new ObjectId(), { deeper: new ObjectId() }], n: new Int32(-3), long: Long.fromNumber(1) },
  };
}
