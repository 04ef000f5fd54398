import { createHash } from 'node:crypto';
import { EJSON, Timestamp, type Document } from 'bson';
import type { MongoClient } from 'mongodb';
import { isExcluded } from '../change-stream.options';
import { MESSAGES } from '../change-stream.messages';
import { formatClusterTime } from '../events/change-event.codec';
import { serializeEvent } from '../publisher/event-serializer';
import { EMPTY_POSITION, type SnapshotProgress, type StreamPosition } from './checkpoint.store';
import { relayItem, type InFlightBuffer } from './in-flight-buffer';
import type { SourceContext } from './change-stream.source';
import type { RelaySource } from './relay-session';

/** The current operation time of the deployment: a resnapshot records it before scanning. */
export async function currentOperationTime(client: MongoClient): Promise<Timestamp> {
  const reply = await client.db('admin').command({ ping: 1 });
  const time = reply.operationTime ?? reply.$clusterTime?.clusterTime;
  if (!(time instanceof Timestamp)) throw new Error(MESSAGES.noOperationTime());
  return time;
}

/** A new resnapshot run starting at `operationTime`; its id (and so every snapshot event id) derives from it. */
export function newSnapshot(operationTime: Timestamp): SnapshotProgress {
  return { runId: formatClusterTime(operationTime), operationTime, done: [] };
}

/** Deterministic id of a snapshot event: the same run and document always give the same id. */
export function snapshotEventId(runId: string, db: string, coll: string, documentKey: Document): string {
  const key = EJSON.stringify({ db, coll, documentKey }, { relaxed: false });
  return `snapshot:${runId}:${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
}

/**
 * Publishes every document of the watched collections as an event of operationType `snapshot`
 * (same key, headers and topic as a change event of that document). The server shapes each
 * document into an event and applies the stream's pipeline, so a `$project` that hides fields
 * hides them here too. Progress is checkpointed per collection; a restarted run repeats the
 * unfinished collection with the same event ids.
 */
export class SnapshotSource implements RelaySource {
  published = 0;

  constructor(
    private readonly ctx: SourceContext,
    private progress: SnapshotProgress,
  ) {}

  async run(buffer: InFlightBuffer, signal: AbortSignal): Promise<void> {
    for (const coll of await this.collections()) {
      if (this.progress.done.includes(coll)) continue;
      if (!(await this.scan(coll, buffer, signal))) return;
      this.progress = { ...this.progress, done: [...this.progress.done, coll] };
      buffer.push(relayItem([], this.position()));
    }
  }

  private async scan(coll: string, buffer: InFlightBuffer, signal: AbortSignal): Promise<boolean> {
    const { client, stream, epoch, options } = this.ctx;
    const { runId, operationTime } = this.progress;
    const shape = {
      $replaceWith: {
        operationType: { $literal: 'snapshot' },
        ns: { db: { $literal: stream.db }, coll: { $literal: coll } },
        documentKey: { _id: '$_id' },
        fullDocument: '$$ROOT',
      },
    };
    const cursor = client
      .db(stream.db)
      .collection(coll)
      .aggregate([{ $sort: { _id: 1 } }, shape, ...stream.pipeline], { batchSize: options.relay.batchSize });
    try {
      for await (const shaped of cursor) {
        await buffer.waitForSpace(signal);
        if (signal.aborted) return false;
        const eventId = snapshotEventId(runId, stream.db, coll, shaped.documentKey);
        const event = { _id: { _data: eventId }, ...shaped, clusterTime: operationTime };
        buffer.push(relayItem(serializeEvent(stream, event, eventId, epoch), this.position()));
        this.published++;
      }
      return !signal.aborted;
    } finally {
      await cursor.close().catch(() => undefined);
    }
  }

  private position(): StreamPosition {
    return { ...EMPTY_POSITION, snapshot: this.progress, clusterTime: this.progress.operationTime };
  }

  /** The collections to scan, sorted: the stream's, or every collection of its database that is not excluded. */
  private async collections(): Promise<string[]> {
    const { client, stream, options } = this.ctx;
    if (stream.collections) return [...stream.collections].sort();
    const infos = await client
      .db(stream.db)
      .listCollections({ type: 'collection' }, { nameOnly: true })
      .toArray();
    return infos
      .map((info) => info.name)
      .filter(
        (coll) =>
          !coll.startsWith('system.') && !isExcluded(options.excludeNamespaces, { db: stream.db, coll }),
      )
      .sort();
  }
}
