import { createHash } from 'node:crypto';
import { EJSON, Timestamp, type Document } from 'bson';
import type { ClientSession, MongoClient } from 'mongodb';
import { isExcluded } from '../options/routing';
import { MESSAGES } from '../change-stream.messages';
import { formatClusterTime } from '../events/change-event.codec';
import { serializeEvent } from '../publisher/outgoing-message';
import { EMPTY_POSITION, type SnapshotProgress, type StreamPosition } from './checkpoint.store';
import { relayItem, type InFlightBuffer } from './in-flight-buffer';
import type { SourceContext } from './change-stream.source';
import type { RelaySource } from './relay-session';
import { markerMessages, runTopics } from './snapshot-markers';
import { buildPipeline, EXACT_BSON } from './stream-pipeline';
import { publishableMessages, type UnpublishablePolicy } from './unpublishable';

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

/** The partition count of each topic (see topicPartitions). */
export type PartitionCounts = (topics: readonly string[]) => Promise<ReadonlyMap<string, number>>;

/**
 * Publishes every document of the watched collections as an event of operationType `snapshot`
 * (same key, headers and topic as a change event of that document), between the run's start and
 * end markers (see SnapshotMarkerBase).
 *
 * - Consistency: the scan reads the primary at read concern majority, causally after the run's
 *   operation time (afterClusterTime), so every write up to that time is in the scan and every
 *   later one in the stream that follows (some in both; never in neither).
 * - Pipeline: the server shapes each document into its `insert` event and applies the stream's
 *   filters and stages, then the event is renamed `snapshot`: a snapshot event passes the pipeline
 *   exactly when the document's insert would.
 * - A document that cannot be published (bad topic, too large) follows `relay.onUnpublishable`.
 * - Resumable: each event's position holds the `_id` it was read at; once Kafka acknowledged it,
 *   the checkpoint does too, and a new leader continues after it. Only the end markers' position
 *   is the finished run (stream from the operation time), so a run cut short is never saved finished.
 */
export class SnapshotSource implements RelaySource {
  published = 0;
  private readonly policy: UnpublishablePolicy;

  constructor(
    private readonly ctx: SourceContext,
    private progress: SnapshotProgress,
    private readonly partitionCounts: PartitionCounts,
  ) {
    const { stream, options, limits, epoch, stats } = ctx;
    this.policy = { stream: stream.name, relay: options.relay, limits, epoch, stats };
  }

  async run(buffer: InFlightBuffer, signal: AbortSignal): Promise<void> {
    const { stream, epoch } = this.ctx;
    const collections = await this.collections();
    const run = { ...this.progress, collections };
    const partitions = await this.partitionCounts([...runTopics(stream, collections).keys()]);
    buffer.push(relayItem(markerMessages('snapshotStart', stream, run, partitions, epoch), this.position()));
    for (const coll of collections) {
      if (this.progress.done.includes(coll)) continue;
      if (!(await this.scan(coll, buffer, signal))) return;
      this.progress = { ...this.progress, done: [...this.progress.done, coll], last: null };
      buffer.push(relayItem([], this.position()));
    }
    const finished = {
      ...EMPTY_POSITION,
      startAtOperationTime: run.operationTime,
      clusterTime: run.operationTime,
    };
    buffer.push(relayItem(markerMessages('snapshotEnd', stream, run, partitions, epoch), finished));
  }

  /** Publishes `coll` from after its last acknowledged `_id`; false when stopped before its end. */
  private async scan(coll: string, buffer: InFlightBuffer, signal: AbortSignal): Promise<boolean> {
    const { client, stream, epoch, options } = this.ctx;
    const { runId, operationTime } = this.progress;
    const session = causalSessionAt(client, operationTime);
    const cursor = client
      .db(stream.db)
      .collection(coll)
      .aggregate(this.scanPipeline(coll), {
        ...EXACT_BSON,
        session,
        batchSize: options.relay.batchSize,
        readPreference: 'primary',
        readConcern: { level: 'majority' },
      });
    try {
      for await (const shaped of cursor) {
        await buffer.waitForSpace(signal);
        if (signal.aborted) return false;
        const { _id: id, ...rest } = shaped;
        const eventId = snapshotEventId(runId, stream.db, coll, rest.documentKey);
        const event = { _id: { _data: eventId }, ...rest, clusterTime: operationTime };
        this.progress = { ...this.progress, last: { coll, id } };
        // A document that cannot be published follows relay.onUnpublishable, as a change event does.
        const messages = publishableMessages(this.policy, event, eventId, () =>
          serializeEvent(stream, event, eventId, epoch),
        );
        buffer.push(relayItem(messages, this.position()));
        this.published++;
      }
      return !signal.aborted;
    } finally {
      await cursor.close().catch(() => undefined);
      await session.endSession().catch(() => undefined);
    }
  }

  /**
   * Documents after the last acknowledged `_id`, in `_id` order, shaped as their insert events
   * (`_id` holds the document's `_id`, as a change event's resume token, which the stream's stages
   * may not change), through the stream's filters and stages, renamed `snapshot`.
   */
  private scanPipeline(coll: string): Document[] {
    const { stream, options } = this.ctx;
    const last = this.progress.last?.coll === coll ? this.progress.last : null;
    // NOTE: an expression compares across BSON types in sort order (a query's $gt would compare
    // within one type only), so mixed `_id` types resume correctly.
    const after = last ? [{ $match: { $expr: { $gt: ['$_id', { $literal: last.id }] } } }] : [];
    const asInsert = {
      $replaceWith: {
        _id: '$_id',
        operationType: { $literal: 'insert' },
        ns: { db: { $literal: stream.db }, coll: { $literal: coll } },
        documentKey: { _id: '$_id' },
        fullDocument: '$$ROOT',
      },
    };
    return [
      ...after,
      { $sort: { _id: 1 } },
      asInsert,
      ...buildPipeline(stream, options.excludeNamespaces),
      { $set: { operationType: { $literal: 'snapshot' } } },
    ];
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

/** A causally consistent session whose reads wait until the majority snapshot includes `operationTime`. */
function causalSessionAt(client: MongoClient, operationTime: Timestamp): ClientSession {
  const session = client.startSession({ causalConsistency: true });
  session.advanceOperationTime(operationTime);
  return session;
}
