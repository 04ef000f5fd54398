import { BSONRegExp, Double, Long, serialize } from 'bson';
import { everyBsonType } from '../../../../test/support/bson-types';
import { decodeChangeEvent, encodeChangeEvent } from './change-event.codec';

describe('change-event codec: BSON types (issue 15, item 11)', () => {
  it('decodes exactly what it encoded, type for type', () => {
    const fullDocument = everyBsonType();
    const event = { _id: { _data: '82AB' }, operationType: 'insert', fullDocument };
    const encoded = encodeChangeEvent(event, '82AB', 1);
    const { event: decoded } = decodeChangeEvent(encoded.value, encoded.headers);
    expect(Buffer.from(serialize(decoded)).equals(Buffer.from(serialize(event)))).toBe(true);
    expect(decoded.fullDocument.longSmall).toBeInstanceOf(Long);
    expect(decoded.fullDocument.doubleWhole).toBeInstanceOf(Double);
    expect(decoded.fullDocument.regex).toEqual(new BSONRegExp('^a.b$', 'ilmsux'));
  });
});
