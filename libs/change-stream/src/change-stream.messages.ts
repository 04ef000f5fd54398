import type { Timestamp } from 'bson';
import { formatClusterTime } from './events/change-event.codec';
import type { StreamPosition } from './relay/checkpoint.store';
import { redactText } from './utils/redact';

/** Log and error texts of the library, in one place. Internal. */

const reason = (error: unknown): string => {
  const e = error as { message?: string; code?: number; codeName?: string } | undefined;
  const code = e?.code !== undefined ? ` [${e.codeName ? `${e.codeName} ` : ''}${e.code}]` : '';
  // NOTE: driver messages may quote a URI with its credentials (the mongodb parser does).
  return `${redactText(e?.message ?? String(error))}${code}`;
};

const clusterTimeText = (ts: Timestamp | null | undefined): string => {
  if (!ts) return '';
  return ` (cluster time ${formatClusterTime(ts)}, ${new Date(ts.high * 1000).toISOString()})`;
};

/** Where a position stands, for people. */
export function describePosition(position: StreamPosition): string {
  if (position.resumeToken) return `the checkpointed resume token${clusterTimeText(position.clusterTime)}`;
  if (position.startAtOperationTime) return `operation time${clusterTimeText(position.startAtOperationTime)}`;
  return 'the start of the stream';
}

export const MESSAGES = {
  becameLeader: (stream: string, epoch: number, position: StreamPosition) =>
    `Stream "${stream}": leader with epoch ${epoch}, reading from ${describePosition(position)}`,
  steppedDown: (stream: string, why: string) => `Stream "${stream}": stepped down (${why})`,
  termExpiredBeforeEpoch: (stream: string) =>
    `Stream "${stream}": the lease ran out before the epoch was taken (a pause after winning?); epoch left alone, campaigning again`,
  producerStopped: (stream: string, epoch: number) =>
    `Stream "${stream}": term of epoch ${epoch} ended; its producer was stopped at once`,
  fencedOut: (stream: string, epoch: number) =>
    `Stream "${stream}": checkpoint for epoch ${epoch} rejected, a newer leader exists: stopped reading and publishing`,
  streamRetry: (stream: string, error: unknown, delayMs: number) =>
    `Stream "${stream}": change stream failed (${reason(error)}); reopening from the last position read in ${delayMs} ms`,
  publishRetry: (stream: string, error: unknown, delayMs: number, events: number) =>
    `Stream "${stream}": Kafka did not acknowledge ${events} events (${reason(error)}); retrying in ${delayMs} ms (the checkpoint does not move meanwhile)`,
  kafkaConnectRetry: (stream: string, error: unknown, delayMs: number) =>
    `Stream "${stream}": Kafka producer cannot connect (${reason(error)}); retrying in ${delayMs} ms`,
  streamClosedWithoutInvalidate: (stream: string) =>
    `Stream "${stream}": the server closed the change stream without an invalidate event (does the stream's pipeline filter out 'invalidate'?)`,
  eventWithoutToken: (stream: string) =>
    `Stream "${stream}": a change event has no resume token _id._data (the stream's pipeline must not change or remove _id)`,
  pipelineModifiedId: (stream: string, error: unknown) =>
    `Stream "${stream}" stopped: MongoDB rejected the stream's pipeline (${reason(error)}). ` +
    'The pipeline must not modify or remove _id (it holds the resume token the relay checkpoints): ' +
    'keep _id as it is in every $project, $set, $replaceRoot or $replaceWith, then restart.',
  splitMismatch: (stream: string, error: unknown) =>
    `Stream "${stream}" stopped: the checkpoint is a fragment of a split event, but the stream cannot reproduce that split (${reason(error)}). ` +
    'Restart with the same pipeline and streams[].splitLargeEvents: true as when the checkpoint was saved.',
  eventTooLarge: (stream: string, error: unknown, splitting: boolean) =>
    `Stream "${stream}" stopped: a change event is over MongoDB's 16 MB BSON limit for one event (${reason(error)}), ` +
    (splitting
      ? 'even split by $changeStreamSplitLargeEvent (one field alone is over the limit). Leave the largest fields out of the event ' +
        '(fullDocument / fullDocumentBeforeChange off, or a $project in the pipeline), then restart.'
      : 'so MongoDB cannot return it and the stream cannot pass it. Enable streams[].splitLargeEvents: true ' +
        '(MongoDB 7.0 or 6.0.9 and later) to have it split into fragments that consumers reassemble, then restart.'),
  streamRejected: (stream: string, error: unknown) =>
    `Stream "${stream}" stopped: MongoDB rejected the change stream (${reason(error)}). Fix the stream's pipeline or options and restart.`,
  historyLost: (stream: string, error: unknown, position: StreamPosition) =>
    `Stream "${stream}" cannot resume from ${describePosition(position)}: ${reason(error)}. ` +
    'The changes made after that point and before now are no longer in the oplog, so they were never published to Kafka.',
  historyLostFail: (stream: string, checkpoints: string) =>
    `Stream "${stream}" stopped (onHistoryLost: 'fail'); the relay reports unhealthy. To recover, either ` +
    `set onHistoryLost: 'resnapshot' and restart (every current document is published as a 'snapshot' event, then the stream continues), ` +
    `or rebuild the read models yourself and delete the document { _id: "${stream}" } from ${checkpoints} to continue from now. ` +
    'To prevent it, size the oplog to cover the longest relay outage.',
  resnapshotStart: (stream: string, operationTime: Timestamp) =>
    `Stream "${stream}": resnapshot started at${clusterTimeText(operationTime)}; publishing every document as a 'snapshot' event`,
  resnapshotDone: (stream: string, documents: number) =>
    `Stream "${stream}": resnapshot published ${documents} documents; streaming from the recorded operation time`,
  shutdownIncomplete: (stream: string, events: number, timeoutMs: number) =>
    `Stream "${stream}": ${events} events not acknowledged by Kafka within ${timeoutMs} ms of shutdown; the next leader publishes them again`,
  unpublishable: (stream: string, eventId: string, namespace: string, reason: string) =>
    `Stream "${stream}" stopped (relay.onUnpublishable: 'fail'): event ${eventId} of ${namespace} cannot be published: ${reason}. ` +
    "The checkpoint stays before it; nothing after it is published. Fix the cause (the stream's topic, the topic's max.message.bytes) and restart, " +
    "or set relay.onUnpublishable: 'deadLetter' to record such events in the relay dead-letter topic and go on.",
  kafkaRefused: (stream: string, type: string, error: unknown, events: number) =>
    `Stream "${stream}" stopped: Kafka refused a batch of ${events} events with ${type} (${reason(error)}), which no retry can fix. ` +
    'The checkpoint stays before the batch. Fix the cause (topic max.message.bytes, topic name, ACLs) and restart.',
  transactionSetup: (stream: string, fault: { type: string; stop: boolean; fix: string }, error: unknown) =>
    `Stream "${stream}" (relay.delivery 'exactly-once'): Kafka refused its transactional producer with ${fault.type} ` +
    `(${reason(error)}). Needed: ${fault.fix}. ` +
    (fault.stop
      ? 'Stopped; fix it and restart (the relay never falls back to at-least-once).'
      : 'Campaigning again.'),
  producerFenced: (stream: string, epoch: number, type: string) =>
    `Stream "${stream}": the producer of epoch ${epoch} was fenced by Kafka (${type}): a newer leader took over; stopped publishing`,
  checkpointTopicSetting: (topic: string, setting: string, value: string, wanted: string) =>
    `Relay checkpoint topic "${topic}": ${setting} is ${value}, should be ${wanted} (exactly-once checkpoints ${
      setting === 'cleanup.policy'
        ? 'would pile up without compaction'
        : 'would be lost with the only replica'
    })`,
  noOperationTime: () =>
    'MongoDB did not report an operationTime (change streams need a replica set or a sharded cluster)',
  leaseLost: (lease: string, why: string) => `Lease "${lease}" lost (${why}): stopped reading and publishing`,
  campaignFailed: (lease: string, failure: { reason: string; attempt: number; delayMs: number }) =>
    `Lease "${lease}": leader work or campaign failed (${failure.reason}); stepped down, campaigning again in ${failure.delayMs} ms (attempt ${failure.attempt})`,
  workerRestartIn: (restart: { reason: string; attempt: number }, delayMs: number) =>
    `Kafka consumer down (${restart.reason}): new consumer in the same group in ${delayMs} ms (attempt ${restart.attempt})`,
  workerRestarted: (restart: { attempt: number; since: Date }) =>
    `Kafka consumer back after ${Date.now() - restart.since.getTime()} ms (attempt ${restart.attempt}): resuming from the committed offsets`,
  deprecatedOption: (old: string, replacement: string) =>
    `Option "${old}" is deprecated and will be removed in the next minor version: use "${replacement}"`,
} as const;
