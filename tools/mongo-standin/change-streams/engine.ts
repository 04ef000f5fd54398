/**
 * The change-stream engine of the MongoDB stand-in (see contract.ts): records committed writes
 * in an oplog with bounded retention, hands out cluster times, and opens `$changeStream` cursors.
 */
import type { Timestamp } from 'bson';
import type { ChangeStreamEngine, ChangeStreamHost, OpenChangeStream, WriteEvent, WriteOp } from './contract';
import { historyLost, resumeTokenNotFound } from './change-stream-errors';
import { ClusterClock, nextTick } from './cluster-clock';
import { EngineCursor, type CursorContext } from './cursor';
import { candidatesFor, tokenOf } from './events';
import { Oplog, sizeOfWrite, type OplogEntry } from './oplog';
import { oplogDocuments } from './oplog-documents';
import {
  encodeResumeToken,
  highWaterMark,
  TokenType,
  type ResumeToken,
  type StreamPosition,
} from './resume-token';
import { parseStreamOptions, type StreamOptions } from './stream-options';

/** Options of {@link createChangeStreamEngine}. */
export interface ChangeStreamEngineOptions {
  /** Oplog entries retained; older ones are dropped (default 100 000). */
  oplogMaxEntries?: number;
  /** Approximate oplog bytes retained (default: no byte limit). */
  oplogMaxBytes?: number;
  /**
   * Interval of mongod's periodic no-op writes, which advance the cluster time (and so the
   * high-water mark of idle streams) when nothing else is written (default 10 000 ms, as mongod; 0 disables).
   */
  noopIntervalMs?: number;
  /** Clock in ms since the epoch (tests). */
  now?: () => number;
}

/** Every default in one place. */
export const ENGINE_DEFAULTS = {
  oplogMaxEntries: 100_000,
  oplogMaxBytes: Infinity,
  noopIntervalMs: 10_000,
} as const;

/** The engine plus what tests and the harness may use beyond the contract. */
export interface ChangeStreamEngineHandle extends ChangeStreamEngine {
  /** Retained oplog entries and their approximate bytes. */
  oplogStats(): { entries: number; bytes: number };
  /** Stops the no-op writer and closes every open cursor. */
  close(): void;
}

const WRITE_OPS: ReadonlySet<WriteOp> = new Set([
  'insert', 'update', 'replace', 'delete', 'drop', 'rename', 'dropDatabase', 'create', 'createIndexes', 'dropIndexes', 'modify',
]); // prettier-ignore
const IMAGE_OPS: ReadonlySet<WriteOp> = new Set(['update', 'replace', 'delete']);

/** Creates the change-stream engine the stand-in server calls for writes and `$changeStream` aggregates. */
export function createChangeStreamEngine(
  host: ChangeStreamHost,
  options: ChangeStreamEngineOptions = {},
): ChangeStreamEngineHandle {
  return new Engine(host, options);
}

class Engine implements ChangeStreamEngineHandle, CursorContext {
  readonly oplog: Oplog;
  private readonly clock: ClusterClock;
  private readonly waiters = new Set<() => void>();
  private readonly cursors = new Set<EngineCursor>();
  private readonly noopTimer?: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(
    readonly host: ChangeStreamHost,
    options: ChangeStreamEngineOptions,
  ) {
    const settings = { ...ENGINE_DEFAULTS, ...definedOnly(options) };
    assertPositive('oplogMaxEntries', settings.oplogMaxEntries);
    assertPositive('oplogMaxBytes', settings.oplogMaxBytes);
    if (!(settings.noopIntervalMs >= 0)) {
      throw new RangeError(`noopIntervalMs must be >= 0, got ${settings.noopIntervalMs}`);
    }
    this.clock = new ClusterClock(options.now);
    this.now = options.now ?? Date.now;
    this.oplog = new Oplog(
      { maxEntries: settings.oplogMaxEntries, maxBytes: settings.oplogMaxBytes },
      this.clock.latest(),
    );
    if (settings.noopIntervalMs > 0) {
      let seen = this.clock.latest();
      this.noopTimer = setInterval(() => {
        // NOTE: like mongod's periodic no-op writer, only when nothing else advanced the clock.
        if (this.clock.latest() === seen) this.clock.tick();
        seen = this.clock.latest();
      }, settings.noopIntervalMs).unref();
    }
  }

  record(writes: WriteEvent[]): Timestamp {
    if (!Array.isArray(writes)) throw new TypeError('record() expects an array of WriteEvents');
    writes.forEach(assertWriteEvent);
    if (!writes.length) return this.clock.latest();
    const clusterTime = this.clock.tick();
    const wallTime = new Date(this.now());
    this.oplog.append(
      writes.map((write, txnOpIndex) =>
        this.entryFor(
          write,
          { clusterTime, tokenType: TokenType.Event, txnOpIndex, fromInvalidate: false },
          wallTime,
        ),
      ),
    );
    for (const wake of [...this.waiters]) wake();
    return clusterTime;
  }

  open(request: OpenChangeStream) {
    const options = parseStreamOptions(request);
    const [start, startToken] = this.startOf(options);
    const cursor = new EngineCursor(this, options, start, startToken);
    const firstBatch = cursor.firstBatch(request.batchSize);
    this.cursors.add(cursor);
    return { cursor, firstBatch };
  }

  clusterTime(): Timestamp {
    return this.clock.latest();
  }

  latestClusterTime(): Timestamp {
    return this.clock.latest();
  }

  truncate(): void {
    this.oplog.truncate(this.clock.latest());
  }

  oplogDocuments() {
    return oplogDocuments(this.oplog);
  }

  oplogStats() {
    return { entries: this.oplog.size, bytes: this.oplog.bytes };
  }

  close(): void {
    if (this.noopTimer) clearInterval(this.noopTimer);
    for (const cursor of [...this.cursors]) cursor.close();
    for (const wake of [...this.waiters]) wake();
  }

  waitForWrite(ms: number) {
    let cancel = () => {};
    const promise = new Promise<void>((resolve) => {
      const timer = setTimeout(() => cancel(), ms);
      cancel = () => {
        clearTimeout(timer);
        this.waiters.delete(cancel);
        resolve();
      };
      this.waiters.add(cancel);
    });
    return { promise, cancel: () => cancel() };
  }

  forget(cursor: EngineCursor): void {
    this.cursors.delete(cursor);
  }

  private entryFor(write: WriteEvent, position: StreamPosition, wallTime: Date): OplogEntry {
    const info = write.coll === undefined ? null : this.host.collectionInfo(write.db, write.coll);
    const images = IMAGE_OPS.has(write.op) && info?.changeStreamPreAndPostImages === true;
    return {
      position,
      wallTime,
      write,
      collectionUUID: write.collectionUUID ?? info?.uuid,
      preImage: images ? write.before : undefined,
      postImage: images && write.op !== 'delete' ? write.after : undefined,
      bytes: sizeOfWrite(write),
      memo: new Map(),
    };
  }

  /** The position a new cursor starts after, and the token reported until it moves. */
  private startOf(options: StreamOptions): [StreamPosition, ResumeToken] {
    const { start } = options;
    switch (start.kind) {
      case 'now': {
        const mark = highWaterMark(nextTick(this.clock.latest()));
        return [mark, encodeResumeToken(mark)];
      }
      case 'startAtOperationTime': {
        const mark = highWaterMark(start.clusterTime);
        if (!this.oplog.canResumeFrom(mark)) throw historyLost();
        return [mark, encodeResumeToken(mark)];
      }
      default: {
        const { decoded, token } = start;
        if (!this.oplog.canResumeFrom(decoded)) throw historyLost();
        // NOTE: a fragment's token names its event, plus the fragment's index (split-event.ts).
        const eventToken =
          decoded.fragmentNum === undefined
            ? token
            : encodeResumeToken({ ...decoded, fragmentNum: undefined });
        if (decoded.tokenType === TokenType.Event) this.assertResumable(options, decoded, eventToken);
        return [decoded, token];
      }
    }
  }

  /** mongod checks that a resumed stream's history holds the very event of the token. */
  private assertResumable(options: StreamOptions, position: StreamPosition, token: ResumeToken): void {
    const entry = this.oplog.at(position);
    const candidate =
      entry && candidatesFor(entry, options).find((c) => c.isInvalidate === position.fromInvalidate);
    if (!candidate || tokenOf(candidate)._data.toUpperCase() !== token._data.toUpperCase())
      throw resumeTokenNotFound(token);
  }
}

function assertWriteEvent(write: WriteEvent, index: number): void {
  const where = `record(): WriteEvent #${index}`;
  if (!write || typeof write !== 'object') throw new TypeError(`${where} is not an object`);
  if (!WRITE_OPS.has(write.op)) throw new TypeError(`${where} has unknown op '${String(write.op)}'`);
  if (typeof write.db !== 'string' || !write.db)
    throw new TypeError(`${where} (${write.op}) needs a database name 'db'`);
  if (write.op !== 'dropDatabase' && (typeof write.coll !== 'string' || !write.coll)) {
    throw new TypeError(`${where} (${write.op}) needs a collection name 'coll'`);
  }
  if (write.op === 'rename' && !write.to)
    throw new TypeError(`${where} (rename) needs the target namespace 'to'`);
  if (write.op === 'insert' && !write.after)
    throw new TypeError(`${where} (insert) needs the inserted document 'after'`);
}

function assertPositive(name: string, value: number): void {
  if (!(value > 0)) throw new RangeError(`${name} must be a positive number, got ${value}`);
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
