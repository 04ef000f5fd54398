import type { IHeaders, KafkaMessage } from 'kafkajs';

/** A Kafka message as the dispatcher sees it: where it was read, and its raw key, value and headers. Internal. */
export interface ChangeMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
  /** When the consumer handed the worker its batch (ms since the epoch); undefined where no consumer fetched it. */
  receivedAt?: number;
}

/** Header values as strings (the first value of a repeated header). */
export function headersAsStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(headers ?? {})) {
    const first = Array.isArray(raw) ? raw[0] : raw;
    if (first !== undefined) out[name] = first.toString();
  }
  return out;
}

/** A message of a kafkajs batch, as the dispatcher sees it. */
export function toChangeMessage(
  topic: string,
  partition: number,
  message: KafkaMessage,
  receivedAt?: number,
): ChangeMessage {
  return {
    receivedAt,
    topic,
    partition,
    offset: message.offset,
    key: message.key,
    value: message.value,
    headers: message.headers ?? {},
  };
}
