import type { Document } from 'bson';
import type { ChangeStreamOptions } from 'mongodb';
import type {
  ResolvedChangeStreamOptions,
  ResolvedStream,
} from '../interfaces/change-stream-options.interface';
import type { StreamPosition } from './checkpoint.store';

/** Events that name no collection; a stream filtered to collections must still let them through. */
const DATABASE_EVENTS = ['dropDatabase', 'invalidate'];

/** The stage that has MongoDB split an event over 16 MB into fragments (7.0, 6.0.9+); it must be last. */
export const SPLIT_LARGE_EVENT_STAGE: Document = { $changeStreamSplitLargeEvent: {} };

/**
 * The aggregation pipeline of a stream: excluded namespaces (the library's own collections and the
 * user's exclusions) first, then the collection and operation-type filters, then the user's stages.
 * `invalidate` always passes, so the relay can publish it and reopen with startAfter.
 */
export function buildPipeline(stream: ResolvedStream, excludeNamespaces: readonly string[]): Document[] {
  const stages: Document[] = [];
  if (!stream.collections || stream.collections.length > 1) {
    const excluded = excludeNamespaces
      .map((ns) => ns.split(/\.(.*)/s))
      .filter(([db]) => db === stream.db)
      .map(([db, coll]) => (coll ? { 'ns.db': db, 'ns.coll': coll } : { 'ns.db': db }));
    if (excluded.length) stages.push({ $match: { $nor: excluded } });
  }
  if (stream.collections && stream.collections.length > 1) {
    stages.push({
      $match: {
        $or: [{ 'ns.coll': { $in: stream.collections } }, { operationType: { $in: DATABASE_EVENTS } }],
      },
    });
  }
  if (stream.operationTypes) {
    stages.push({
      $match: { operationType: { $in: [...new Set([...stream.operationTypes, 'invalidate'])] } },
    });
  }
  return [...stages, ...stream.pipeline];
}

/**
 * The pipeline of the stream's `watch()`: {@link buildPipeline}, then `$changeStreamSplitLargeEvent`
 * when `splitLargeEvents` is on (mongod requires it last, and refuses it outside a change stream,
 * so a resnapshot's scan uses buildPipeline alone).
 */
export function changeStreamPipeline(
  stream: ResolvedStream,
  excludeNamespaces: readonly string[],
): Document[] {
  const stages = buildPipeline(stream, excludeNamespaces);
  return stream.splitLargeEvents ? [...stages, SPLIT_LARGE_EVENT_STAGE] : stages;
}

/**
 * Decode options of the relay's own cursors (change stream, snapshot scan): every BSON value keeps
 * its type (an int64 stays Long, a whole double stays Double, regex options `x`/`l` are kept), so
 * the canonical EJSON on Kafka is what MongoDB stored. The user's client options are untouched.
 */
export const EXACT_BSON = Object.freeze({
  promoteLongs: false,
  promoteValues: false,
  promoteBuffers: false,
  bsonRegExp: true,
});

/** Driver options of `watch()` for a stream opened at `position`. */
export function watchOptions(
  stream: ResolvedStream,
  relay: ResolvedChangeStreamOptions['relay'],
  position: StreamPosition,
): ChangeStreamOptions {
  const options: ChangeStreamOptions = {
    ...EXACT_BSON,
    batchSize: relay.batchSize,
    maxAwaitTimeMS: relay.maxAwaitTimeMs,
  };
  if (stream.fullDocument !== 'default') options.fullDocument = stream.fullDocument;
  if (stream.fullDocumentBeforeChange !== 'off')
    options.fullDocumentBeforeChange = stream.fullDocumentBeforeChange;
  if (stream.showExpandedEvents) options.showExpandedEvents = true;
  if (position.resumeToken) {
    if (position.startAfter) options.startAfter = position.resumeToken;
    else options.resumeAfter = position.resumeToken;
  } else if (position.startAtOperationTime) {
    options.startAtOperationTime = position.startAtOperationTime;
  }
  return options;
}
