import type { Document, Timestamp } from 'bson';
import type { Collection } from 'mongodb';
import { FencedOutError } from '../errors/fenced-out.error';

/** Progress of a resnapshot run (see onHistoryLost: 'resnapshot'). */
export interface SnapshotProgress {
  /** Deterministic id of the run (from its operation time): snapshot event ids derive from it. */
  runId: string;
  /** The operation time recorded before the scan: the stream continues from it. */
  operationTime: Timestamp;
  /** Collections completely published. */
  done: string[];
  /**
   * The collection being scanned and the `_id` of its last document Kafka acknowledged: a new leader
   * continues after it. Absent or null: no document of an unfinished collection was acknowledged yet.
   */
  last?: { coll: string; id: unknown } | null;
}

/**
 * Where a stream continues from. Exactly one of: a resume token (with `startAfter` after an
 * invalidate), an operation time, a snapshot in progress, or nothing (start from now).
 */
export interface StreamPosition {
  resumeToken: Document | null;
  startAfter: boolean;
  startAtOperationTime: Timestamp | null;
  snapshot: SnapshotProgress | null;
  /** Cluster time of the last event at or before this position (diagnostics). */
  clusterTime: Timestamp | null;
}

/** The checkpoint document of one stream in `change_stream_checkpoints`. */
export interface CheckpointDocument extends Partial<StreamPosition> {
  _id: string;
  /** Incremented by each new leader; checkpoint writes must carry the current one. */
  epoch: number;
  leader?: string;
  electedAt?: Date;
  updatedAt?: Date;
}

export const EMPTY_POSITION: StreamPosition = Object.freeze({
  resumeToken: null,
  startAfter: false,
  startAtOperationTime: null,
  snapshot: null,
  clusterTime: null,
});

const MAJORITY = { writeConcern: { w: 'majority' as const } };

/**
 * The epoch-fenced checkpoint of one stream. A new leader takes the next epoch with an atomic
 * `$inc` (majority write concern); every later write matches `{ epoch: mine }`, so a write by a
 * deposed leader matches nothing and fails with FencedOutError.
 */
export class CheckpointStore {
  constructor(
    private readonly collection: Collection<CheckpointDocument>,
    readonly stream: string,
    private readonly instanceId: string,
  ) {}

  /**
   * Takes the next epoch and returns it with the position saved so far; null, without a write, when
   * `stillValid()` says the term ended. It is checked right before the `$inc`, with no await in
   * between: a replica that paused after winning its lease must not fence the leader that replaced it.
   *
   * NOTE: what remains is the time from this check until the server applies the `$inc` (connection
   * checkout, the network, the majority write). A pause inside it can still let a late `$inc` land.
   * It is bounded: the check passes only with more than the safety margin of validity left, so
   * only a delay longer than the margin lands the write after the lease passed to another replica,
   * and then the worst case is a new leader fenced once: its next checkpoint write fails
   * (FencedOutError), it steps down and campaigns again. No event is lost: the checkpoint only
   * moves under the current epoch, so the next leader replays from it.
   */
  async takeEpoch(stillValid: () => boolean): Promise<{ epoch: number; position: StreamPosition } | null> {
    if (!stillValid()) return null;
    const doc = await this.collection.findOneAndUpdate(
      { _id: this.stream },
      { $inc: { epoch: 1 }, $set: { leader: this.instanceId, electedAt: new Date() } },
      { upsert: true, returnDocument: 'after', ...MAJORITY },
    );
    if (!doc || typeof doc.epoch !== 'number') {
      throw new Error(
        `Checkpoint of stream "${this.stream}" has no numeric epoch after $inc (got ${JSON.stringify(doc?.epoch)})`,
      );
    }
    return {
      epoch: doc.epoch,
      position: {
        resumeToken: doc.resumeToken ?? null,
        startAfter: doc.startAfter ?? false,
        startAtOperationTime: doc.startAtOperationTime ?? null,
        snapshot: doc.snapshot ?? null,
        clusterTime: doc.clusterTime ?? null,
      },
    };
  }

  /** Saves `position` if `epoch` is still current; otherwise throws FencedOutError. */
  async save(epoch: number, position: StreamPosition): Promise<void> {
    const result = await this.collection.updateOne(
      { _id: this.stream, epoch },
      { $set: { ...position, leader: this.instanceId, updatedAt: new Date() } },
      MAJORITY,
    );
    if (result.matchedCount === 0) throw new FencedOutError(this.stream, epoch);
  }

  /** The saved checkpoint, if any (diagnostics and tests). */
  read(): Promise<CheckpointDocument | null> {
    return this.collection.findOne({ _id: this.stream });
  }
}
