import { Binary, Long, ObjectId, Timestamp } from 'bson';
import { KeyStringReader, KeyStringWriter } from './keystring';

const hexOf = (value: unknown) => new KeyStringWriter().value(value).toHex();

describe('KeyString-like codec', () => {
  const integers = [
    -(2 ** 40),
    -70000,
    -300,
    -128,
    -127,
    -1,
    0,
    1,
    2,
    63,
    64,
    127,
    128,
    255,
    256,
    32767,
    32768,
    2 ** 29,
    2 ** 30,
    2 ** 31,
    2 ** 40,
  ];

  it('encodes integers in mongod layout (2 -> 2B04, 128 -> 2C0100, 0 -> 29)', () => {
    expect(hexOf(2)).toBe('2B04');
    expect(hexOf(128)).toBe('2C0100');
    expect(hexOf(0)).toBe('29');
  });

  it('orders integers by value and gives numbers and bigints the same bytes', () => {
    const hexes = integers.map((n) => new KeyStringWriter().integer(n).toHex());
    expect([...hexes].sort()).toEqual(hexes);
    expect(integers.map((n) => new KeyStringWriter().integer(BigInt(n)).toHex())).toEqual(hexes);
    for (const n of integers)
      expect(new KeyStringReader(new KeyStringWriter().integer(n).toBuffer()).integer()).toBe(BigInt(n));
  });

  it('round-trips documents of common BSON values', () => {
    const doc = {
      s: 'x',
      n: -3,
      f: -2.5,
      b: true,
      z: null,
      o: new ObjectId(),
      d: new Date(7),
      t: new Timestamp({ t: 9, i: 1 }),
      a: [1, 'a'],
      nested: { k: 1 },
    };
    const decoded = new KeyStringReader(new KeyStringWriter().object(doc).toBuffer()).object();
    expect(decoded).toEqual({ ...doc, o: expect.any(ObjectId), t: expect.any(Timestamp) });
    expect(decoded.o.equals(doc.o)).toBe(true);
    expect(decoded.t.equals(doc.t)).toBe(true);
    const big = new KeyStringReader(
      new KeyStringWriter().value(Long.fromString('-9007199254740993')).toBuffer(),
    ).value();
    expect(String(big)).toBe('-9007199254740993');
    const binary = new KeyStringReader(
      new KeyStringWriter().value(new Binary(Buffer.alloc(300, 1), 0)).toBuffer(),
    ).value() as Binary;
    expect(binary.length()).toBe(300);
  });
});
