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

/** A message as kafkajs takes it: text or bytes (the producer thread sends bytes). */
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
