import { Int32, type Timestamp } from 'bson';
import { CHANGE_EVENT_HEADERS } from '../events/change-event.headers';
import { encodeChangeEvent } from '../events/change-event.codec';
import type { SnapshotMarkerBase } from '../events/change-event.interface';
import type { ResolvedStream } from '../interfaces/change-stream-options.interface';
import { topicsOf } from '../options/routing';
import type { OutgoingMessage } from '../publisher/outgoing-message';

/** What the markers of one run describe. */
export interface SnapshotRun {
  runId: string;
  operationTime: Timestamp;
  /** The collections the run scans. */
  collections: readonly string[];
}

/** The topics of a run, each with the collections whose snapshot events go to it. */
export function runTopics(stream: ResolvedStream, collections: readonly string[]): Map<string, string[]> {
  const byTopic = new Map<string, string[]>();
  for (const coll of collections) {
    for (const topic of topicsOf(stream, { ns: { db: stream.db, coll } })) {
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), coll]);
    }
  }
  return byTopic;
}

/**
 * The start or end markers of a run: one message per partition of each of its topics, with the
 * `cdc-partition` header that sends it there, and a deterministic id (a resumed run repeats them
 * with the same ids, so consumers apply each once).
 */
export function markerMessages(
  kind: 'snapshotStart' | 'snapshotEnd',
  stream: ResolvedStream,
  run: SnapshotRun,
  partitions: ReadonlyMap<string, number>,
  epoch: number,
): OutgoingMessage[] {
  const messages: OutgoingMessage[] = [];
  for (const [topic, collections] of runTopics(stream, run.collections)) {
    const count = partitions.get(topic) ?? 1;
    for (let partition = 0; partition < count; partition++) {
      const eventId = `${kind}:${run.runId}:${topic}:${partition}`;
      const event: SnapshotMarkerBase & { operationType: typeof kind } = {
        _id: { _data: eventId },
        operationType: kind,
        ns: { db: stream.db },
        clusterTime: run.operationTime,
        runId: run.runId,
        collections,
        partition: new Int32(partition),
        partitions: new Int32(count),
      };
      const encoded = encodeChangeEvent(event, eventId, epoch);
      encoded.headers[CHANGE_EVENT_HEADERS.partition] = String(partition);
      messages.push({ topic, ...encoded });
    }
  }
  return messages;
}
