import {
  Binary,
  BSONRegExp,
  BSONSymbol,
  Code,
  DBRef,
  Decimal128,
  Double,
  EJSON,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp,
  UUID,
  type Document,
} from 'bson';
import { everyBsonType } from '../../../../test/support/bson-types';
import { canonicalEJSON } from './canonical-ejson';
import { seededRandom } from '../utils/seeded-random.fixtures';
import { asDelivered, randomDeliveredDocument } from './canonical-ejson.fixtures';

const SEED = 20261203;
const CASES = 4000;

/** bson's answer, or the error it throws, as one comparable string. */
function outcome(encode: (value: Document) => string, value: Document): string {
  try {
    return encode(value);
  } catch (error) {
    return `throws ${(error as Error).constructor.name}: ${(error as Error).message}`;
  }
}

const bson = (value: Document): string => EJSON.stringify(value, { relaxed: false });

function expectSameAsBson(value: Document): void {
  expect(outcome(canonicalEJSON, value)).toBe(outcome(bson, value));
}

describe('canonicalEJSON: byte for byte what bson EJSON.stringify(relaxed: false) writes', () => {
  it(`agrees on ${CASES} random documents of every BSON type, as the driver delivers them (seed ${SEED})`, () => {
    const random = seededRandom(SEED);
    let compared = 0;
    for (let i = 0; i < CASES; i++) {
      const doc = randomDeliveredDocument(random);
      const expected = bson(doc);
      const actual = canonicalEJSON(doc);
      // One readable failure (the case number and both texts) rather than thousands.
      if (actual !== expected) expect({ case: i, actual }).toEqual({ case: i, actual: expected });
      compared++;
    }
    expect(compared).toBe(CASES);
  });

  it('agrees on the codec spec document of every BSON type, delivered and as constructed', () => {
    expectSameAsBson(everyBsonType());
    expectSameAsBson(asDelivered(everyBsonType()));
  });

  const numbers: [string, unknown][] = [
    ['Double -0', new Double(-0)],
    ['Double 0 and whole values', [new Double(0), new Double(1), new Double(-3), new Double(2 ** 53)]],
    ['Double NaN and infinities', [new Double(NaN), new Double(Infinity), new Double(-Infinity)]],
    [
      'Double around 1e21 (toFixed turns exponential)',
      [new Double(1e20), new Double(1e21), new Double(-1e22)],
    ],
    [
      'Double fractions and tiny values',
      [new Double(0.1), new Double(1e-7), new Double(5e-324), new Double(-2.5)],
    ],
    ['Int32 limits', [new Int32(0x7fffffff), new Int32(-0x80000000), new Int32(-0)]],
    ['Long limits and beyond 2^53', [Long.MAX_VALUE, Long.MIN_VALUE, Long.fromString('9007199254740993')]],
    ['unsigned Long', Long.fromString('18446744073709551615', true)],
    [
      'plain numbers (int32, int64, double, -0, NaN)',
      [1, -0, NaN, Infinity, 2 ** 31, 2 ** 63, -(2 ** 63), 1e21, 0.5],
    ],
    ['bigint', [10n, -(2n ** 70n), 2n ** 63n]],
    [
      'Decimal128',
      [Decimal128.fromString('12.340'), Decimal128.fromString('-1.23E+400'), Decimal128.fromString('NaN')],
    ],
  ];
  const dates: [string, unknown][] = [
    ['Date at and before 1970', [new Date(0), new Date(-1), new Date(-62198755200000)]],
    ['Date after 9999', [new Date(253402300800000), new Date(8.64e15)]],
    ['invalid Date', new Date(NaN)],
    ['Timestamp, unsigned halves', new Timestamp({ t: 0xffffffff, i: 0xffffffff })],
  ];
  const binaries: [string, unknown][] = [
    ['Binary subtypes 0, 2, 0x80', [0, 2, 0x80].map((t) => new Binary(Buffer.from('bytes'), t))],
    [
      'Binary UUID subtype 4 and old UUID subtype 3',
      [new Binary(Buffer.alloc(16, 7), 4), new Binary(Buffer.alloc(16, 9), 3)],
    ],
    ['UUID instance', new UUID('0123456789abcdef0123456789abcdef')],
    [
      'empty Binary and an unfilled one (bson writes its whole buffer)',
      [new Binary(Buffer.alloc(0)), new Binary()],
    ],
    ['vector Binary (subtype 9)', Binary.fromInt8Array(new Int8Array([1, -2, 3]))],
  ];
  const others: [string, unknown][] = [
    ['BSONRegExp options as given', [new BSONRegExp('a/b"c', 'xsmil'), new BSONRegExp('^$', '')]],
    ['native RegExp', /a\/b/imsu],
    ['Code with and without scope', [new Code('f()'), new Code('g()', { n: new Int32(1), d: new Date(5) })]],
    [
      'DBRef with db and extra fields',
      new DBRef('c', new ObjectId('65a1b2c3d4e5f60718293a4b'), 'db', { x: new Int32(2) }),
    ],
    ['MinKey, MaxKey, BSONSymbol', [new MinKey(), new MaxKey(), new BSONSymbol('s"y')]],
    ['ObjectId', new ObjectId('65a1b2c3d4e5f60718293a4b')],
  ];
  it.each([...numbers, ...dates, ...binaries, ...others])('agrees on %s', (_name, value) => {
    expectSameAsBson({ v: value });
  });

  const objects: [string, Document][] = [
    [
      'key order: integer-like keys first, then insertion order',
      { b: 1, 2: 'x', a: 2, 1: 'y', '-1': 3, '01': 4 },
    ],
    [
      'JSON escaping of values and keys',
      { 'k"\\\n\u0000\u2028': 'v"\\/\b\f\n\r\t\u0000\u001f\u007f\u2028é😀' },
    ],
    [
      'lone surrogates (escaped by well-formed JSON.stringify)',
      { '\ud800x': '\udc00', s: 'a\ud83d', p: '😀' },
    ],
    ['undefined fields and array slots become null', { u: undefined, a: [undefined, 1] }],
    [
      'functions and symbols: left out of objects, null in arrays',
      { f: () => 1, s: Symbol('s'), a: [() => 1, Symbol('t')] },
    ],
    ['Symbol keys are ignored', { [Symbol('k')]: 1, k: 2 }],
    // eslint-disable-next-line no-sparse-arrays
    ['arrays with holes', { a: [1, , 3], b: new Array(3) }],
    ['a toJSON method on a plain object', { toJSON: () => ({ replaced: true }), a: 1 }],
    ['a nested toJSON method (called with its key)', { n: { toJSON: (key: string) => `key=${key}` } }],
    ['a toJSON field that is not a function', { toJSON: 'just data' }],
    [
      'a Map with string keys',
      {
        m: new Map<string, unknown>([
          ['a', new Int32(1)],
          ['b', { c: 'd' }],
        ]),
      },
    ],
    ['a Map with a non-string key (bson throws)', { m: new Map<unknown, unknown>([[1, 'x']]) }],
    [
      'an __proto__ own key and a null-prototype object',
      { n: Object.assign(Object.create(null) as Document, { a: 1 }), ['__proto__']: 5 },
    ],
    [
      'class instances, Buffers and boxed primitives (enumerable own keys only)',
      { b: Buffer.from('ab'), s: new String('hi'), n: new Number(5) },
    ],
    ['a field named _bsontype (bson throws)', { x: { _bsontype: 'Int32', value: 1 } }],
    ['a native RegExp with a flag BSON lacks (bson throws)', { r: /x/g }],
    ['nesting 150 deep (the writer) and 400 deep (handed to bson)', { a: nest(150), b: nest(400) }],
    ['top-level array', [new Int32(1), 'x'] as unknown as Document],
  ];
  it.each(objects)('agrees on %s', (_name, value) => {
    expectSameAsBson(value);
  });

  it('throws where bson throws on a cycle', () => {
    const cyclic: Document = { a: { b: {} } };
    cyclic.a.b.back = cyclic;
    expect(() => canonicalEJSON(cyclic)).toThrow(/circular/);
    expectSameAsBson(cyclic);
  });

  it('writes null for null and undefined, as bson does', () => {
    expect(canonicalEJSON(null)).toBe(bson(null as unknown as Document));
    expect(canonicalEJSON(undefined)).toBe('null');
  });
});

function nest(depth: number): Document {
  let doc: Document = { leaf: new Int32(depth) };
  for (let i = 0; i < depth; i++) doc = i % 2 ? { d: doc } : ([doc] as unknown as Document);
  return doc;
}
