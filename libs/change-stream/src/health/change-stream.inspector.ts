import { Injectable, Logger } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Timestamp } from 'bson';
import type { MongoClient } from 'mongodb';
import { CHANGE_STREAM_MONGO_CLIENT, CHANGE_STREAM_OPTIONS } from '../change-stream.constants';
import { ChangeEventWorker } from '../worker/change-event.worker';
import type { WorkerStatus } from '../worker/worker-status';
import type { ResolvedChangeStreamOptions } from '../interfaces/change-stream-options.interface';
import type { CheckpointDocument } from '../relay/checkpoint.store';
import { ChangeStreamStatus, type RelayStatus } from './relay-status';

/** The saved checkpoint of one stream, as every replica sees it (leader or not). */
export interface CheckpointInfo {
  stream: string;
  epoch: number | null;
  leader: string | null;
  /** Cluster time of the last event at or before the checkpoint; null before the first event. */
  eventTime: Date | null;
  /** When the checkpoint was last written. */
  savedAt: Date | null;
}

/** First and last entry of the oplog, when this user may read `local.oplog.rs`. */
export interface OplogWindow {
  first: Date;
  last: Date;
}

/** Everything health and metrics report, read at one moment. */
export interface ChangeStreamReport {
  at: Date;
  relay: RelayStatus;
  /** null when the module runs without the worker role. */
  worker: WorkerStatus | null;
  checkpoints: CheckpointInfo[];
  /** null when unreadable (no permission, a sharded cluster through mongos, a server without an oplog). */
  oplog: OplogWindow | null;
}

/** The oplog window changes slowly; it is read at most this often. */
const OPLOG_REFRESH_MS = 15_000;

/**
 * Reads the state of this replica's change-stream roles for the health indicator and the metrics:
 * the relay status, the worker status, the saved checkpoints and the oplog window. It finds
 * the module's providers through ModuleRef, so ChangeStreamModule need not be global.
 */
@Injectable()
export class ChangeStreamInspector {
  private readonly logger = new Logger('ChangeStream');
  private oplog: { window: OplogWindow | null; readAt: number } | undefined;
  private oplogWarned = false;
  /** How long one read of the oplog window is reused, in ms (tests that watch it move lower it). */
  oplogRefreshMs = OPLOG_REFRESH_MS;

  constructor(private readonly moduleRef: ModuleRef) {}

  /** The module options (validated), as ChangeStreamModule resolved them. */
  get options(): ResolvedChangeStreamOptions {
    return this.moduleRef.get<ResolvedChangeStreamOptions>(CHANGE_STREAM_OPTIONS, { strict: false });
  }

  /** The relay and worker state, without I/O. */
  statuses(): Pick<ChangeStreamReport, 'relay' | 'worker'> {
    const relay = this.moduleRef.get(ChangeStreamStatus, { strict: false }).snapshot();
    const worker = this.options.roles.worker
      ? this.moduleRef.get(ChangeEventWorker, { strict: false }).status()
      : null;
    return { relay, worker };
  }

  /** A full report; reads the checkpoints (one query) and, now and then, the oplog window. */
  async inspect(): Promise<ChangeStreamReport> {
    const [checkpoints, oplog] = await Promise.all([this.readCheckpoints(), this.oplogWindow()]);
    return { at: new Date(), ...this.statuses(), checkpoints, oplog };
  }

  private async readCheckpoints(): Promise<CheckpointInfo[]> {
    const { storage, streams } = this.options;
    if (streams.length === 0) return [];
    const docs = await this.client()
      .db(storage.database)
      .collection<CheckpointDocument>(storage.checkpoints)
      .find({ _id: { $in: streams.map((s) => s.name) } })
      .toArray();
    return streams.map(({ name }) => {
      const doc = docs.find((d) => d._id === name);
      return {
        stream: name,
        epoch: doc?.epoch ?? null,
        leader: doc?.leader ?? null,
        eventTime: doc?.clusterTime ? timestampToDate(doc.clusterTime) : null,
        savedAt: doc?.updatedAt ?? null,
      };
    });
  }

  private async oplogWindow(): Promise<OplogWindow | null> {
    if (this.oplog && Date.now() - this.oplog.readAt < this.oplogRefreshMs) return this.oplog.window;
    let window: OplogWindow | null = null;
    try {
      const oplog = this.client().db('local').collection<{ ts: Timestamp }>('oplog.rs');
      const projection = { ts: 1, _id: 0 };
      const [first, last] = await Promise.all([
        oplog.findOne({}, { sort: { $natural: 1 }, projection }),
        oplog.findOne({}, { sort: { $natural: -1 }, projection }),
      ]);
      if (first?.ts && last?.ts)
        window = { first: timestampToDate(first.ts), last: timestampToDate(last.ts) };
    } catch (error) {
      if (!this.oplogWarned) {
        this.oplogWarned = true;
        this.logger.warn(
          `oplog window not readable (${(error as Error).message}); it is left out of health and metrics`,
        );
      }
    }
    this.oplog = { window, readAt: Date.now() };
    return window;
  }

  private client(): MongoClient {
    return this.moduleRef.get<MongoClient>(CHANGE_STREAM_MONGO_CLIENT, { strict: false });
  }
}

/** A BSON timestamp's seconds as a Date. */
export function timestampToDate(ts: Timestamp): Date {
  return new Date(ts.getHighBits() * 1000);
}
