/**
 * The messages the relay sends, from an event to the bytes kafkajs writes: serialize (an event's
 * messages), pack (into buffers while in flight, joined into one for the producer thread) and unpack.
 */
import type { Document } from 'bson';
import { encodeChangeEvent } from '../events/change-event.codec';
import { topicsOf } from '../options/routing';
import type { ResolvedStream } from '../interfaces/change-stream-options.interface';
import { HEADER_OVERHEAD_BYTES, RECORD_OVERHEAD_BYTES } from './kafka-limits';

/** One Kafka message the relay produces (already encoded). */
export interface OutgoingMessage {
  topic: string;
  key: string;
  value: string;
  headers: Record<string, string>;
}

/**
 * Messages on their way to Kafka: `count` messages packed (see packMessages) into `parts`, in order.
 * Packed when read, so thousands of in-flight events are a few buffers, not objects and strings
 * that every garbage collection would have to copy.
 */
export interface PackedBatch {
  count: number;
  parts: readonly Buffer[];
}

/** A message as kafkajs takes it: text, or bytes (an unpacked message: views of its packed buffer). */
export interface WireMessage {
  topic: string;
  key: string | Buffer;
  value: string | Buffer;
  headers: Record<string, string | Buffer>;
}

/**
 * The stream's checkpoint as the exactly-once relay commits it with each batch: one record of the
 * compacted checkpoint topic, keyed by stream; its value is canonical EJSON (see encodeCheckpointRecord).
 */
export type CheckpointRecord = OutgoingMessage;

/** The topics the events of `stream` go to, as far as known before they come (a whole-database stream's grow). */
export function streamTopics(stream: ResolvedStream): string[] {
  return [...(stream.collections ?? []).map((coll) => stream.topicOf(coll)), ...stream.databaseTopics];
}

/** The Kafka messages of one change (or snapshot) event: same key, value and headers on each of its topics. */
export function serializeEvent(
  stream: ResolvedStream,
  event: Document,
  eventId: string,
  epoch: number,
): OutgoingMessage[] {
  const encoded = encodeChangeEvent(event, eventId, epoch);
  return topicsOf(stream, event).map((topic) => ({ topic, ...encoded }));
}

/** Messages packed (see {@link packMessages}), with what they take in a Kafka record batch. */
export interface PackedMessages {
  bytes: Buffer;
  /** Exactly what {@link recordBytes} says of the messages, counted while packing them. */
  recordBytes: number;
}

/** Size of the chunks events are packed into: one allocation per ~1 500 events of 700 bytes. */
const CHUNK_BYTES = 1 << 20;
/** The chunk being filled (shared by this thread's streams), and where its free part starts. */
let chunk = Buffer.allocUnsafeSlow(0);
let chunkAt = 0;

/**
 * Packs messages into bytes: per message the topic, key, value and each header as length-prefixed
 * UTF-8. Cheaper to hold than strings, moves to the producer thread without a copy, and kafkajs then
 * writes the bytes as they are. Events are packed one after another into shared chunks, so a batch
 * of consecutive events is one range of a chunk (joinBatch copies it at once).
 */
export function pack(messages: readonly OutgoingMessage[]): PackedMessages {
  // NOTE: UTF-8 takes at most 3 bytes per UTF-16 unit: room for the worst case, lengths known after.
  let worst = 0;
  for (const m of messages) {
    worst += 14 + 3 * (m.topic.length + m.key.length + m.value.length);
    for (const name in m.headers) worst += 8 + 3 * (name.length + m.headers[name].length);
  }
  if (chunkAt + worst > chunk.length) {
    // NOTE: a large event gets a chunk of its exact size, not three times it.
    chunk = Buffer.allocUnsafeSlow(worst > CHUNK_BYTES ? packedSize(messages) : CHUNK_BYTES);
    chunkAt = 0;
  }
  const start = chunkAt;
  let records = 0;
  for (const m of messages) {
    putText(m.topic);
    records += RECORD_OVERHEAD_BYTES + putText(m.key) + putText(m.value);
    const names = Object.keys(m.headers);
    chunkAt = chunk.writeUInt16LE(names.length, chunkAt);
    for (const name of names) records += HEADER_OVERHEAD_BYTES + putText(name) + putText(m.headers[name]);
  }
  return { bytes: chunk.subarray(start, chunkAt), recordBytes: records };
}

/** Writes `text` length-prefixed at the chunk's free part; returns its UTF-8 length. */
function putText(text: string): number {
  const length = chunk.write(text, chunkAt + 4);
  chunk.writeUInt32LE(length, chunkAt);
  chunkAt += 4 + length;
  return length;
}

/** The exact size of `messages` packed. */
function packedSize(messages: readonly OutgoingMessage[]): number {
  let size = 0;
  for (const m of messages) {
    size += 14 + Buffer.byteLength(m.topic) + Buffer.byteLength(m.key) + Buffer.byteLength(m.value);
    for (const name in m.headers) size += 8 + Buffer.byteLength(name) + Buffer.byteLength(m.headers[name]);
  }
  return size;
}

/** The bytes of {@link pack}. */
export function packMessages(messages: readonly OutgoingMessage[]): Buffer {
  return pack(messages).bytes;
}

/**
 * One transferable buffer for the producer thread: the message count, then the packed parts in
 * order, then `checkpoint` (the transaction's checkpoint record) as the last message.
 */
export function joinBatch(batch: PackedBatch, checkpoint?: CheckpointRecord): ArrayBuffer {
  const parts = checkpoint ? [...batch.parts, packMessages([checkpoint])] : batch.parts;
  let size = 4;
  for (const part of parts) size += part.length;
  const joined = Buffer.allocUnsafeSlow(size);
  let at = joined.writeUInt32LE(batch.count + (checkpoint ? 1 : 0), 0);
  // NOTE: consecutive events packed one after another in a chunk are copied as one range.
  for (let i = 0; i < parts.length;) {
    const first = parts[i];
    let end = first.byteOffset + first.length;
    for (i++; i < parts.length && parts[i].buffer === first.buffer && parts[i].byteOffset === end; i++)
      end += parts[i].length;
    const range = new Uint8Array(first.buffer, first.byteOffset, end - first.byteOffset);
    joined.set(range, at);
    at += range.length;
  }
  return joined.buffer as ArrayBuffer;
}

/** The inverse of {@link joinBatch}; keys, values and header values are views of `joined` (no copies). */
export function unpackJoined(joined: ArrayBuffer): WireMessage[] {
  const messages: WireMessage[] = [];
  readPacked(Buffer.from(joined), 4, messages);
  return messages;
}

/** The messages of `batch` in order, read where they lie (the in-thread send needs no joined copy). */
export function unpackBatch(batch: PackedBatch): WireMessage[] {
  const messages: WireMessage[] = [];
  for (const part of batch.parts) readPacked(part, 0, messages);
  return messages;
}

/** Appends the messages packed in `buffer` from `start` to its end (see packMessages) to `into`. */
function readPacked(buffer: Buffer, start: number, into: WireMessage[]): void {
  let at = start;
  const bytes = () => {
    const length = buffer.readUInt32LE(at);
    const view = buffer.subarray(at + 4, at + 4 + length);
    at += 4 + length;
    return view;
  };
  while (at < buffer.length) {
    const topic = bytes().toString();
    const key = bytes();
    const value = bytes();
    const headers: Record<string, Buffer> = {};
    const count = buffer.readUInt16LE(at);
    at += 2;
    for (let h = 0; h < count; h++) headers[bytes().toString()] = bytes();
    into.push({ topic, key, value, headers });
  }
}
