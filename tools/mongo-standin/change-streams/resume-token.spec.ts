import { Long, ObjectId, Timestamp, UUID } from 'bson';
import { MongoServerError } from '../errors/server-error';
import {
  comparePositions,
  decodeResumeToken,
  encodeResumeToken,
  highWaterMark,
  TokenType,
  type ResumeTokenData,
  type StreamPosition,
} from './resume-token';

const ts = (t: number, i: number) => new Timestamp({ t, i });

/** A deterministic pseudo-random source, so a failure reproduces. */
function random(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

describe('resume tokens', () => {
  it('start with 82 and the 8-byte cluster time, like mongod', () => {
    const token = encodeResumeToken({ ...highWaterMark(ts(0x64f0d2e2, 7)) });
    expect(token._data.startsWith('8264F0D2E200000007')).toBe(true);
    expect(token._data).toMatch(/^[0-9A-F]+$/);
  });

  it('round-trip event tokens with their collection UUID and document key', () => {
    const uuid = new UUID();
    const id = new ObjectId();
    const data: ResumeTokenData = {
      clusterTime: ts(1_700_000_000, 42),
      version: 2,
      tokenType: TokenType.Event,
      txnOpIndex: 300,
      fromInvalidate: false,
      uuid,
      eventIdentifier: {
        operationType: 'update',
        documentKey: {
          _id: id,
          shard: 'a\u0000b',
          n: -5,
          big: Long.fromString('9007199254740993'),
          f: 1.5,
          at: new Date(5),
        },
      },
    };
    const decoded = decodeResumeToken(encodeResumeToken(data));
    expect(decoded).toMatchObject({
      clusterTime: data.clusterTime,
      version: 2,
      tokenType: 128,
      txnOpIndex: 300,
      fromInvalidate: false,
    });
    expect(decoded.uuid?.toString('hex')).toBe(uuid.toString('hex'));
    const key = decoded.eventIdentifier?.documentKey;
    expect(decoded.eventIdentifier?.operationType).toBe('update');
    expect(key._id.equals(id)).toBe(true);
    expect(key).toMatchObject({ shard: 'a\u0000b', n: -5, f: 1.5, at: new Date(5) });
    expect(key.big.toString()).toBe('9007199254740993');
  });

  it('round-trip high-water marks and invalidate tokens', () => {
    const mark = highWaterMark(ts(10, 3));
    expect(decodeResumeToken(encodeResumeToken(mark))).toEqual({ ...mark, version: 2 });
    const invalidate = {
      clusterTime: ts(10, 3),
      tokenType: TokenType.Event,
      txnOpIndex: 0,
      fromInvalidate: true,
    };
    expect(decodeResumeToken(encodeResumeToken(invalidate))).toEqual({ ...invalidate, version: 2 });
  });

  it('order as hex strings exactly as their positions order', () => {
    const next = random(7);
    const positions: StreamPosition[] = Array.from({ length: 500 }, () => ({
      clusterTime: ts(1_700_000_000 + Math.floor(next() * 3), Math.floor(next() * 3) * 1000 + 1),
      tokenType: next() < 0.2 ? TokenType.HighWaterMark : TokenType.Event,
      txnOpIndex: Math.floor(next() * 4) ** 5,
      fromInvalidate: next() < 0.3,
    })).map((p) => (p.tokenType === TokenType.HighWaterMark ? highWaterMark(p.clusterTime) : p));
    const tokens = positions.map((position) => ({
      position,
      hex: encodeResumeToken({
        ...position,
        uuid: new UUID(),
        eventIdentifier: { operationType: 'insert', documentKey: { _id: next() } },
      })._data,
    }));
    const byHex = [...tokens].sort((a, b) => (a.hex < b.hex ? -1 : a.hex > b.hex ? 1 : 0));
    // Sorted by hex, neighbours never go backwards in position order (equal positions may differ in identifiers).
    const backwards = byHex.filter(
      (t, i) => i > 0 && comparePositions(byHex[i - 1].position, t.position) > 0,
    );
    expect(backwards).toEqual([]);
    expect(new Set(byHex.map((t) => t.hex)).size).toBeGreaterThan(100);
  });

  it('order a high-water mark before every event at its cluster time and after every earlier one', () => {
    const mark = encodeResumeToken(highWaterMark(ts(100, 5)))._data;
    const eventAt = (t: number, i: number) =>
      encodeResumeToken({
        clusterTime: ts(t, i),
        tokenType: TokenType.Event,
        txnOpIndex: 0,
        fromInvalidate: false,
      })._data;
    expect(eventAt(100, 4) < mark).toBe(true);
    expect(mark < eventAt(100, 5)).toBe(true);
  });

  it.each([
    ['not a document', 'abc'],
    ['no _data', {}],
    ['_data not a string', { _data: 5 }],
    ['_data not hex', { _data: 'zz' }],
    ['no timestamp prefix', { _data: '2B04' }],
    ['truncated', { _data: '826B0407D0000000012B042C01' }],
    ['trailing bytes', { _data: encodeResumeToken(highWaterMark(ts(1, 1)))._data + '00' }],
    ['an extra field', { _data: encodeResumeToken(highWaterMark(ts(1, 1)))._data, x: 1 }],
  ])('reject a malformed token (%s) with InvalidResumeToken 260', (_name, token) => {
    let error: unknown;
    try {
      decodeResumeToken(token);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(MongoServerError);
    expect(error).toMatchObject({ code: 260, codeName: 'InvalidResumeToken' });
  });
});
