/**
 * A `$changeStream` cursor: scans the oplog after its position, builds and filters events, and
 * reports a postBatchResumeToken on every batch (the last event's token, or a high-water mark at
 * the latest cluster time once the retained oplog has been read to its end).
 */
import { calculateObjectSize, type Document, type Timestamp } from 'bson';
import type { ChangeStreamBatch, ChangeStreamCursor, ChangeStreamHost } from './contract';
import { ErrorCodes, MongoServerError, serverError } from '../errors/server-error';
import { historyLost } from './change-stream-errors';
import { nextTick } from './cluster-clock';
import { buildEvent, candidatesFor, tokenOf, type Candidate } from './events';
import type { Oplog } from './oplog';
import {
  comparePositions,
  encodeResumeToken,
  highWaterMark,
  type ResumeToken,
  type StreamPosition,
} from './resume-token';
import type { StreamOptions } from './stream-options';
import { sizedOutput } from './split-event';
import { UserPipeline } from './user-pipeline';

/** What a cursor needs from its engine. */
export interface CursorContext {
  readonly oplog: Oplog;
  readonly host: ChangeStreamHost;
  latestClusterTime(): Timestamp;
  /** Resolves on the next recorded write, after `ms`, or when `cancel` is called. */
  waitForWrite(ms: number): { promise: Promise<void>; cancel(): void };
  /** Called once when the cursor is closed. */
  forget(cursor: EngineCursor): void;
}

/** mongod's default first-batch size for aggregate. */
export const DEFAULT_FIRST_BATCH_SIZE = 101;
/** mongod's default await time of a tailable awaitData getMore. */
export const DEFAULT_AWAIT_MS = 1000;
/** Reply budget for the events of one batch (mongod caps a reply at 16 MiB). */
const MAX_BATCH_BYTES = 16 * 1024 * 1024 - 64 * 1024;

export class EngineCursor implements ChangeStreamCursor {
  readonly ns: string;
  private readonly pipeline: UserPipeline;
  private position: StreamPosition;
  private positionToken: ResumeToken;
  private invalidated = false;
  /** Documents of the last event read not yet returned (fragments that did not fit the batch). */
  private pending: Document[] = [];
  /** Resumed from a fragment's token: that event's position and the fragment's index. */
  private resumedSplit?: { position: StreamPosition; fragmentNum: number };
  private closed = false;
  private cancelWait?: () => void;

  constructor(
    private readonly context: CursorContext,
    private readonly options: StreamOptions,
    start: StreamPosition,
    startToken: ResumeToken,
  ) {
    const { scope } = options;
    this.ns =
      scope.kind === 'collection'
        ? `${scope.db}.${scope.coll}`
        : `${scope.kind === 'cluster' ? 'admin' : scope.db}.$cmd.aggregate`;
    this.pipeline = new UserPipeline(options.pipeline, options.collation);
    this.position = start;
    this.positionToken = startToken;
    const { start: from } = options;
    if ('decoded' in from && from.decoded.fragmentNum !== undefined)
      this.resumedSplit = { position: start, fragmentNum: from.decoded.fragmentNum };
  }

  get exhausted(): boolean {
    return this.invalidated;
  }

  /** The first batch: whatever is available now, without waiting. */
  firstBatch(batchSize = DEFAULT_FIRST_BATCH_SIZE): ChangeStreamBatch {
    // NOTE: errors of the first batch are left without mongod's "PlanExecutor error during aggregation" prefix (as before).
    return this.batch(this.collect(batchSize));
  }

  async getMore(batchSize: number | undefined, maxTimeMS: number | undefined): Promise<ChangeStreamBatch> {
    if (this.closed) throw serverError(ErrorCodes.CursorNotFound, `cursor on ${this.ns} was closed`);
    const deadline = Date.now() + (maxTimeMS ?? DEFAULT_AWAIT_MS);
    for (;;) {
      const limit = batchSize === undefined || batchSize <= 0 ? Infinity : batchSize;
      const events = withContext('Executor error during getMore', () => this.collect(limit));
      const remaining = deadline - Date.now();
      if (events.length || this.invalidated || this.closed || remaining <= 0) return this.batch(events);
      const wait = this.context.waitForWrite(remaining);
      this.cancelWait = wait.cancel;
      await wait.promise;
      this.cancelWait = undefined;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelWait?.();
    this.context.forget(this);
  }

  private batch(events: Document[]): ChangeStreamBatch {
    return { events, postBatchResumeToken: this.positionToken };
  }

  /** Reads events after the cursor's position, advancing it; stops at `limit` events or an invalidate. */
  private collect(limit: number): Document[] {
    const batch: Batch = { events: [], bytes: 0, limit };
    if (limit <= 0 || this.invalidated || this.closed) return batch.events;
    if (!this.drainPending(batch)) return batch.events;
    const { oplog, host } = this.context;
    if (oplog.lostAfter(this.position)) throw historyLost();
    for (const entry of oplog.from(this.position)) {
      for (const candidate of candidatesFor(entry, this.options)) {
        const resumedFragment = this.resumedFragmentOf(candidate);
        if (resumedFragment === undefined && comparePositions(candidate.position, this.position) <= 0)
          continue;
        const token = tokenOf(candidate);
        const output = this.pipeline.apply(buildEvent(candidate, this.options, host), token);
        this.pending = output ? sizedOutput(output, this.options.splitLargeEvents, resumedFragment) : [];
        this.position = candidate.position;
        this.positionToken = token;
        if (!this.drainPending(batch)) return batch.events;
        if (candidate.isInvalidate) {
          this.invalidated = true;
          return batch.events;
        }
        if (batch.events.length >= limit) return batch.events;
      }
    }
    const mark = highWaterMark(nextTick(this.context.latestClusterTime()));
    if (comparePositions(mark, this.position) > 0) {
      this.position = mark;
      this.positionToken = encodeResumeToken(mark);
    }
    return batch.events;
  }

  /**
   * Moves the pending documents of the last event (its fragments) into the batch while they fit;
   * false when some are left for the next batch. The token reported is the last document's.
   */
  private drainPending(batch: Batch): boolean {
    while (this.pending.length) {
      const next = this.pending[0];
      const size = calculateObjectSize(next);
      const full = batch.events.length >= batch.limit || batch.bytes + size > MAX_BATCH_BYTES;
      if (batch.events.length && full) return false;
      batch.events.push(this.pending.shift()!);
      batch.bytes += size;
      this.positionToken = next._id as ResumeToken;
    }
    return true;
  }

  /** The fragment this stream resumed from, when `candidate` is its event (once). */
  private resumedFragmentOf(candidate: Candidate): number | undefined {
    const resumed = this.resumedSplit;
    if (!resumed || comparePositions(candidate.position, resumed.position) !== 0) return undefined;
    this.resumedSplit = undefined;
    return resumed.fragmentNum;
  }
}

/** The documents of one reply being filled. */
interface Batch {
  events: Document[];
  bytes: number;
  limit: number;
}

/** Runs `read`; mongod prefixes the errors of a plan executor with what it was running. */
function withContext<T>(context: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof MongoServerError) error.message = `${context} :: caused by :: ${error.message}`;
    throw error;
  }
}
