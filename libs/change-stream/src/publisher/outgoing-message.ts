/**
 * The messages the relay sends, from an event to the bytes kafkajs writes: serialize (an event's
 * messages), pack (into buffers while in flight, joined into one for the producer thread) and unpack.
 */
import type { Document } from 'bson';
import { encodeChangeEvent } from '../events/change-event.codec';
import { topicsOf } from '../options/routing';
import type { ResolvedStream } from '../interfaces/change-stream-options.interface';

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

/**
 * Packs messages into bytes: per message the topic, key, value and each header as length-prefixed
 * UTF-8. Cheaper to hold than strings, moves to the producer thread without a copy, and kafkajs then
 * writes the bytes as they are.
 */
export function packMessages(messages: readonly OutgoingMessage[]): Buffer {
  let size = 0;
  for (const m of messages) {
    size += 14 + Buffer.byteLength(m.topic) + Buffer.byteLength(m.key) + Buffer.byteLength(m.value);
    for (const name in m.headers) size += 8 + Buffer.byteLength(name) + Buffer.byteLength(m.headers[name]);
  }
  const buffer = Buffer.allocUnsafe(size);
  let at = 0;
  const put = (text: string) => {
    const length = buffer.write(text, at + 4);
    buffer.writeUInt32LE(length, at);
    at += 4 + length;
  };
  for (const m of messages) {
    put(m.topic);
    put(m.key);
    put(m.value);
    const names = Object.keys(m.headers);
    at = buffer.writeUInt16LE(names.length, at);
    for (const name of names) {
      put(name);
      put(m.headers[name]);
    }
  }
  return at === size ? buffer : buffer.subarray(0, at);
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
  for (const part of parts) at += part.copy(joined, at);
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
