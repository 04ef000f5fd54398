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
  serialize,
  Timestamp,
} from 'bson';
import { decodeChangeEvent, encodeChangeEvent } from './change-event.codec';

describe('change-event codec: BSON types (issue 15, item 11)', () => {
  it('decodes exactly what it encoded, type for type', () => {
    const fullDocument = {
      _id: new ObjectId(),
      int32: new Int32(7),
      longSmall: Long.fromNumber(42),
      longLarge: Long.fromString('9007199254740993'),
      doubleWhole: new Double(1),
      negativeZero: new Double(-0),
      notANumber: new Double(NaN),
      decimal: Decimal128.fromString('1.10'),
      binary4: new Binary(Buffer.from('0123456789abcdef'), 4),
      before1970: new Date(-1),
      timestamp: new Timestamp({ t: 1, i: 2 }),
      regex: new BSONRegExp('a', 'imsxlu'),
      min: new MinKey(),
      max: new MaxKey(),
      code: new Code('x'),
    };
    const event = { _id: { _data: '82AB' }, operationType: 'insert', fullDocument };
    const encoded = encodeChangeEvent(event, '82AB', 1);
    const { event: decoded } = decodeChangeEvent(encoded.value, encoded.headers);
    expect(Buffer.from(serialize(decoded)).equals(Buffer.from(serialize(event)))).toBe(true);
    expect(decoded.fullDocument.longSmall).toBeInstanceOf(Long);
    expect(decoded.fullDocument.doubleWhole).toBeInstanceOf(Double);
    expect(decoded.fullDocument.regex).toEqual(new BSONRegExp('a', 'ilmsux'));
  });
});
