/** One Kafka message the relay produces (already encoded). */
export interface OutgoingMessage {
  topic: string;
  key: string;
  /** The encoded event, as UTF-8 bytes: kept off the JS heap while the message waits for Kafka. */
  value: Buffer;
  headers: Record<string, string>;
}

/** A message as kafkajs takes it: text or bytes (the producer thread sends bytes). */
export interface WireMessage {
  topic: string;
  key: string | Buffer;
  value: string | Buffer;
  headers: Record<string, string | Buffer>;
}
