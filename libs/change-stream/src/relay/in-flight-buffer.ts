import { pack, type OutgoingMessage } from '../publisher/outgoing-message';
import type { StreamPosition } from './checkpoint.store';

/** Something read from MongoDB and not yet acknowledged by Kafka, with the position after it. */
export interface RelayItem {
  /** How many messages it holds (0 for an idle-stream position advance). */
  count: number;
  /** The messages, packed (see pack); null when there are none. */
  packed: Buffer | null;
  /** Encoded size, counted against the bytes bound. */
  bytes: number;
  /** At most the bytes its messages take in a Kafka record batch (see recordBytes). */
  recordBytes: number;
  /** Where the stream continues once this item (and all before it) is acknowledged. */
  position: StreamPosition;
}

/** The item of an event's messages, packed at once (see PackedBatch), or of a bare position advance. */
export function relayItem(messages: readonly OutgoingMessage[], position: StreamPosition): RelayItem {
  if (messages.length === 0) return { count: 0, packed: null, bytes: 0, recordBytes: 0, position };
  const packed = pack(messages);
  return {
    count: messages.length,
    packed: packed.bytes,
    bytes: packed.bytes.length,
    recordBytes: packed.recordBytes,
    position,
  };
}

/**
 * The bounded queue between the reader and the publisher. Items stay counted until acknowledged,
 * so `maxEvents` / `maxBytes` bound everything read but not yet acknowledged by Kafka. The reader
 * waits for space before reading more (the change stream pauses; nothing buffers without limit).
 */
export class InFlightBuffer {
  private readonly items: RelayItem[] = [];
  /** When each item was pushed (read), in step with `items`. */
  private readonly readAt: number[] = [];
  private events = 0;
  private byteCount = 0;
  private wake: Array<() => void> = [];

  constructor(
    private readonly maxEvents: number,
    private readonly maxBytes: number,
    /** Told the new totals after every push and ack (recorded in the stream's RelayStats). */
    private readonly onChange: (events: number, bytes: number) => void = () => undefined,
  ) {}

  get eventCount(): number {
    return this.events;
  }

  get bytes(): number {
    return this.byteCount;
  }

  get length(): number {
    return this.items.length;
  }

  /** When the oldest item still queued was read (ms since the epoch); null when empty. */
  get oldestReadAt(): number | null {
    return this.readAt.length ? this.readAt[0] : null;
  }

  get hasSpace(): boolean {
    return this.events < this.maxEvents && this.byteCount < this.maxBytes;
  }

  push(item: RelayItem): void {
    this.items.push(item);
    this.readAt.push(Date.now());
    this.events += item.count;
    this.byteCount += item.bytes;
    this.onChange(this.events, this.byteCount);
    this.notify();
  }

  /**
   * The oldest items holding at most `maxMessages` messages of at most `maxRecordBytes` record bytes
   * (at least one item when not empty: a single item over the bound was already refused by its source).
   */
  peek(maxMessages: number, maxRecordBytes: number): RelayItem[] {
    const batch: RelayItem[] = [];
    let count = 0;
    let bytes = 0;
    for (const item of this.items) {
      const full = count + item.count > maxMessages || bytes + item.recordBytes > maxRecordBytes;
      if (batch.length > 0 && full) break;
      batch.push(item);
      count += item.count;
      bytes += item.recordBytes;
    }
    return batch;
  }

  /** Removes the `count` oldest items (acknowledged) and wakes a waiting reader. */
  ack(count: number): void {
    this.readAt.splice(0, count);
    for (const item of this.items.splice(0, count)) {
      this.events -= item.count;
      this.byteCount -= item.bytes;
    }
    this.onChange(this.events, this.byteCount);
    this.notify();
  }

  /** Drops everything (a lost lease: the next leader replays from the checkpoint). */
  clear(): void {
    this.ack(this.items.length);
  }

  /** Resolves when there is space, or at once when `signal` aborts. */
  async waitForSpace(signal: AbortSignal): Promise<void> {
    while (!this.hasSpace && !signal.aborted) await this.changed(signal);
  }

  /** Resolves when an item is queued, `timeoutMs` passed, or `signal` aborts. */
  async waitForItems(signal: AbortSignal, timeoutMs: number): Promise<void> {
    if (this.items.length === 0 && !signal.aborted) await this.changed(signal, timeoutMs);
  }

  /** Wakes every waiter (e.g. when the reader finished). */
  notify(): void {
    const waiters = this.wake;
    this.wake = [];
    for (const resolve of waiters) resolve();
  }

  /** Resolves at the next push/ack/notify, on abort, or after `timeoutMs`. */
  private changed(signal: AbortSignal, timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => done(), timeoutMs);
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wake = this.wake.filter((waiter) => waiter !== done);
        resolve();
      };
      this.wake.push(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
