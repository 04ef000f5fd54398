import { EJSON, type Document } from 'bson';
import type { CheckpointRecord } from '../publisher/outgoing-message';
import type { StreamPosition } from './checkpoint.store';

/** What a checkpoint record holds: the position after the batch, and the epoch of the leader that wrote it. */
export interface CheckpointRecordValue {
  epoch: number;
  position: StreamPosition;
}

/** The checkpoint record of `stream` at `position`, written by the leader of `epoch`. */
export function encodeCheckpointRecord(
  topic: string,
  stream: string,
  epoch: number,
  position: StreamPosition,
): CheckpointRecord {
  const { resumeToken, startAfter, startAtOperationTime, snapshot, clusterTime } = position;
  const value = EJSON.stringify(
    { resumeToken, startAfter, startAtOperationTime, snapshot, clusterTime, epoch },
    { relaxed: false },
  );
  return { topic, key: stream, value, headers: {} };
}

/** The inverse of {@link encodeCheckpointRecord}'s value; throws on a value that is not a checkpoint. */
export function decodeCheckpointRecord(value: string | Buffer): CheckpointRecordValue {
  const doc = EJSON.parse(String(value), { relaxed: false }) as Document;
  const epoch = Number(doc.epoch);
  if (!Number.isInteger(epoch) || typeof doc.startAfter !== 'boolean')
    throw new Error(`not a relay checkpoint record: ${String(value).slice(0, 200)}`);
  return {
    epoch,
    position: {
      resumeToken: doc.resumeToken ?? null,
      startAfter: doc.startAfter,
      startAtOperationTime: doc.startAtOperationTime ?? null,
      snapshot: doc.snapshot ?? null,
      clusterTime: doc.clusterTime ?? null,
    },
  };
}
