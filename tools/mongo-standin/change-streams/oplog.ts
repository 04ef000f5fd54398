/**
 * The stand-in's oplog: committed writes in cluster-time order with bounded retention (entry count
 * and/or approximate bytes), like mongod's capped `local.oplog.rs`.
 */
import { calculateObjectSize, type Binary, type Document, type Timestamp } from 'bson';
import type { WriteEvent } from './contract';
import { comparePositions, TokenType, type StreamPosition } from './resume-token';

/** One retained write. */
export interface OplogEntry {
  /** Its place in the event order (an event position, never an invalidate). */
  readonly position: StreamPosition;
  readonly wallTime: Date;
  readonly write: WriteEvent;
  /** The collection UUID, from the write or the collection at write time. */
  readonly collectionUUID?: Binary;
  /** Kept when the collection had changeStreamPreAndPostImages enabled at write time. */
  readonly preImage?: Document;
  readonly postImage?: Document;
  /** Approximate BSON size counted against `maxBytes`. */
  readonly bytes: number;
  /** Per-entry memo for values every stream derives the same way (tokens, update descriptions). */
  readonly memo: Map<string, unknown>;
}

/** Retention limits of an {@link Oplog}. */
export interface OplogLimits {
  /** Entries kept (the oldest are dropped beyond it). */
  maxEntries: number;
  /** Approximate bytes kept; Infinity for no byte limit. */
  maxBytes: number;
}

export class Oplog {
  private entries: OplogEntry[] = [];
  private head = 0;
  private totalBytes = 0;
  /** Every event after this position is retained; at or before it, history may be lost. */
  private retainedAfter: StreamPosition;

  /** @param origin the cluster time before the first write: history starts after it. */
  constructor(
    private readonly limits: OplogLimits,
    origin: Timestamp,
  ) {
    this.retainedAfter = lastPositionAt(origin);
  }

  get size(): number {
    return this.entries.length - this.head;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** Appends entries (already in order, after every retained one) and drops what exceeds the limits. */
  append(entries: OplogEntry[]): void {
    for (const entry of entries) {
      this.entries.push(entry);
      this.totalBytes += entry.bytes;
    }
    while (this.size > 1 && (this.size > this.limits.maxEntries || this.totalBytes > this.limits.maxBytes)) {
      const evicted = this.entries[this.head++];
      this.totalBytes -= evicted.bytes;
      this.retainedAfter = evicted.position;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** Drops every retained entry: history up to `latest` is lost. */
  truncate(latest: Timestamp): void {
    this.entries = [];
    this.head = 0;
    this.totalBytes = 0;
    this.retainedAfter = lastPositionAt(latest);
  }

  /**
   * True when a stream can resume from `position`: every event after it is retained and, for an
   * event position, the event itself (a resume must find it).
   */
  canResumeFrom(position: StreamPosition): boolean {
    return comparePositions(eventBase(position), this.retainedAfter) > 0;
  }

  /** True when some event after `position` was dropped by retention or truncation. */
  lostAfter(position: StreamPosition): boolean {
    return comparePositions(this.retainedAfter, position) > 0;
  }

  /** The entry at an event (or its invalidate's) position, or undefined. */
  at(position: StreamPosition): OplogEntry | undefined {
    const base = eventBase(position);
    const entry = this.entries[this.lowerBound(base)];
    return entry && comparePositions(entry.position, base) === 0 ? entry : undefined;
  }

  /** Entries at or after the entry a position belongs to, oldest first. */
  *from(position: StreamPosition): IterableIterator<OplogEntry> {
    for (let index = this.lowerBound(eventBase(position)); index < this.entries.length; index++) {
      yield this.entries[index];
    }
  }

  /** Index of the first entry at or after `position`. */
  private lowerBound(position: StreamPosition): number {
    let low = this.head;
    let high = this.entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (comparePositions(this.entries[mid].position, position) >= 0) high = mid;
      else low = mid + 1;
    }
    return low;
  }
}

/** The position of the entry an event or invalidate position belongs to. */
function eventBase(position: StreamPosition): StreamPosition {
  return position.fromInvalidate ? { ...position, fromInvalidate: false } : position;
}

/** The greatest position at a cluster time (after every event and invalidate there). */
function lastPositionAt(clusterTime: Timestamp): StreamPosition {
  return {
    clusterTime,
    tokenType: TokenType.Event,
    txnOpIndex: Number.MAX_SAFE_INTEGER,
    fromInvalidate: true,
  };
}

/** Approximate BSON size of a write, for the byte limit. */
export function sizeOfWrite(write: WriteEvent): number {
  let size = 64;
  for (const part of [write.before, write.after, write.documentKey, write.operationDescription]) {
    if (part) size += calculateObjectSize(part);
  }
  if (write.update)
    size += calculateObjectSize(Array.isArray(write.update) ? { u: write.update } : write.update);
  return size;
}
