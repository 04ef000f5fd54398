import {
  afterBatch,
  afterHandler,
  isApplied,
  NOTHING_APPLIED,
  offsetNumber,
  type AppliedOffset,
} from './applied-offset';

describe('applied offsets (worker.dedupe: offsets)', () => {
  it('skips every message at or below the offset, for every handler, and nothing above it', () => {
    const state: AppliedOffset = { offset: 41, partial: null, version: 3 };
    expect(isApplied(state, 0, 'H.a')).toBe(true);
    expect(isApplied(state, 41, 'H.b')).toBe(true);
    expect(isApplied(state, 42, 'H.a')).toBe(false);
    expect(isApplied(NOTHING_APPLIED, 0, 'H.a')).toBe(false);
  });

  it('moves to the last message of a shared transaction, clearing any partial message, and bumps the version', () => {
    const partial: AppliedOffset = { offset: 9, partial: { offset: 10, handlers: ['H.a'] }, version: 4 };
    expect(afterBatch(partial, 20)).toEqual({ offset: 20, partial: null, version: 5 });
    expect(afterBatch(NOTHING_APPLIED, 0)).toEqual({ offset: 0, partial: null, version: 1 });
  });

  it("records one handler's transaction on a message, so only that handler skips it on a redelivery", () => {
    const first = afterHandler({ offset: 3, partial: null, version: 1 }, 7, 'H.a');
    expect(first).toEqual({ offset: 6, partial: { offset: 7, handlers: ['H.a'] }, version: 2 });
    expect(isApplied(first, 7, 'H.a')).toBe(true);
    expect(isApplied(first, 7, 'H.b')).toBe(false);
    expect(isApplied(first, 6, 'H.b')).toBe(true);

    const second = afterHandler(first, 7, 'H.b');
    expect(second.partial).toEqual({ offset: 7, handlers: ['H.a', 'H.b'] });
    expect(isApplied(second, 7, 'H.b')).toBe(true);

    // The next message: the earlier one is done (the worker got past it), its handler list goes.
    const next = afterHandler(second, 8, 'H.a');
    expect(next).toEqual({ offset: 7, partial: { offset: 8, handlers: ['H.a'] }, version: 4 });
  });

  it('never moves the offset back', () => {
    expect(afterBatch({ offset: 30, partial: null, version: 2 }, 20).offset).toBe(30);
  });

  it('reads Kafka offsets as numbers and refuses what a number cannot hold exactly', () => {
    expect(offsetNumber('0')).toBe(0);
    expect(offsetNumber('123456789')).toBe(123456789);
    expect(() => offsetNumber('9007199254740993')).toThrow(RangeError);
    expect(() => offsetNumber('-1')).toThrow(RangeError);
  });
});
