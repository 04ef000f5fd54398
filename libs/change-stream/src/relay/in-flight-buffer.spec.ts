import { EMPTY_POSITION } from './checkpoint.store';
import { InFlightBuffer, type RelayItem } from './in-flight-buffer';

const item = (events: number, bytes = 10): RelayItem => ({
  count: events,
  packed: null,
  bytes,
  recordBytes: bytes,
  position: EMPTY_POSITION,
});

describe('InFlightBuffer', () => {
  it('bounds events until they are acknowledged', async () => {
    const buffer = new InFlightBuffer(3, 1_000);
    buffer.push(item(1));
    buffer.push(item(2));
    expect(buffer.hasSpace).toBe(false);
    const signal = new AbortController().signal;
    let resumed = false;
    const waiting = buffer.waitForSpace(signal).then(() => (resumed = true));
    expect(buffer.peek(10, Infinity)).toHaveLength(2);
    await Promise.resolve();
    expect(resumed).toBe(false);
    buffer.ack(1);
    await waiting;
    expect(resumed).toBe(true);
    expect(buffer.eventCount).toBe(2);
  });

  it('bounds bytes too', () => {
    const buffer = new InFlightBuffer(100, 50);
    buffer.push(item(1, 60));
    expect(buffer.hasSpace).toBe(false);
    buffer.ack(1);
    expect(buffer.hasSpace).toBe(true);
    expect(buffer.bytes).toBe(0);
  });

  it('peeks whole items up to a message count, always at least one', () => {
    const buffer = new InFlightBuffer(100, 1_000);
    buffer.push(item(3));
    buffer.push(item(0));
    buffer.push(item(2));
    expect(buffer.peek(1, Infinity)).toHaveLength(1);
    expect(buffer.peek(3, Infinity)).toHaveLength(2);
    expect(buffer.peek(5, Infinity)).toHaveLength(3);
  });

  it('peeks whole items up to a record-byte size (a Kafka batch limit), always at least one', () => {
    const buffer = new InFlightBuffer(100, 10_000);
    for (const bytes of [400, 400, 400, 900]) buffer.push(item(1, bytes));
    expect(buffer.peek(500, 1_000)).toHaveLength(2);
    expect(buffer.peek(500, 1_200)).toHaveLength(3);
    buffer.ack(3);
    expect(buffer.peek(500, 100)).toHaveLength(1);
  });

  it('wakes an item waiter on push, and times out otherwise', async () => {
    jest.useFakeTimers();
    try {
      const buffer = new InFlightBuffer(10, 1_000);
      const signal = new AbortController().signal;
      let woke = false;
      void buffer.waitForItems(signal, 1_000).then(() => (woke = true));
      await jest.advanceTimersByTimeAsync(999);
      expect(woke).toBe(false);
      await jest.advanceTimersByTimeAsync(1);
      expect(woke).toBe(true);
      woke = false;
      void buffer.waitForItems(signal, 1_000).then(() => (woke = true));
      buffer.push(item(1));
      await jest.advanceTimersByTimeAsync(0);
      expect(woke).toBe(true);
    } finally {
      jest.useRealTimers();
    }
  });
});
