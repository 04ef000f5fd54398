import type { IHeaders, Message } from 'kafkajs';
import { deadLetterTopic } from '../options/routing';
import type { ChangeMessage } from './change-message';
import { DEAD_LETTER_HEADERS as H, type DeadLetterReason } from './dead-letter.headers';
import { redactText } from '../utils/redact';

/** A message given up on. */
export interface DeadLetter {
  message: ChangeMessage;
  reason: DeadLetterReason;
  /** The failed handler's id (none for an undecodable message). */
  handlerId?: string;
  /** The last error. */
  error: unknown;
  attempts: number;
}

/** Dead letters stored for one reason and handler (`''` when no handler is involved, e.g. `undecodable`). */
export interface DeadLetterCount {
  reason: DeadLetterReason;
  handler: string;
  count: number;
}

/** Where dead letters go: the Kafka dead-letter topic in production, a list in the testing kit. Internal. */
export abstract class DeadLetterSink {
  /** Resolves once the letter is stored durably; rejects when it could not be. */
  abstract send(letter: DeadLetter): Promise<void>;
}

const MAX_ERROR_LENGTH = 1000;

/** `<ErrorName>: <message>`, bounded, for any thrown value (filters may throw plain objects). */
export function describeError(error: unknown): string {
  let text: string;
  if (error instanceof Error) text = `${error.name}: ${error.message}`;
  else if (typeof error === 'string') text = error;
  else {
    try {
      text = JSON.stringify(error) ?? String(error);
    } catch {
      text = String(error);
    }
  }
  // NOTE: driver messages may quote a URI with its credentials.
  text = redactText(text);
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH - 1)}…` : text;
}

/**
 * The dead-letter record of a letter: topic `<topic><suffix>`, the original key, value and headers,
 * plus the DEAD_LETTER_HEADERS naming handler, error and attempts.
 */
export function deadLetterRecord(
  letter: DeadLetter,
  { suffix, groupId, now = new Date() }: { suffix: string; groupId: string; now?: Date },
): { topic: string; message: Message } {
  const { message } = letter;
  const headers: IHeaders = {
    ...message.headers,
    [H.reason]: letter.reason,
    [H.handler]: letter.handlerId ?? '',
    [H.error]: describeError(letter.error),
    [H.attempts]: String(letter.attempts),
    [H.topic]: message.topic,
    [H.partition]: String(message.partition),
    [H.offset]: message.offset,
    [H.group]: groupId,
    [H.failedAt]: now.toISOString(),
  };
  return {
    topic: deadLetterTopic(message.topic, suffix),
    message: { key: message.key, value: message.value, headers },
  };
}
