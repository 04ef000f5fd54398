import { KafkaJSNonRetriableError, KafkaJSProtocolError } from 'kafkajs';
import { kafkaErrorType, unretriableKafkaError } from './kafka-errors';
import { ProducerThreadError } from './producer-thread';

/** kafkajs' protocol error types by code (node_modules/kafkajs/src/protocol/error.js). */
const TYPES: Record<number, string> = {
  6: 'NOT_LEADER_FOR_PARTITION',
  10: 'MESSAGE_TOO_LARGE',
  17: 'INVALID_TOPIC_EXCEPTION',
  18: 'RECORD_LIST_TOO_LARGE',
  29: 'TOPIC_AUTHORIZATION_FAILED',
  31: 'CLUSTER_AUTHORIZATION_FAILED',
};
/** A broker's error as kafkajs raises it. */
const protocolError = (code: number) =>
  new KafkaJSProtocolError({ code, type: TYPES[code], message: TYPES[code], retriable: code === 6 } as never);

/** kafkajs' retrier wraps a non-retriable error so (its typings omit the options argument). */
const NonRetriable = KafkaJSNonRetriableError as unknown as new (
  e: Error,
  options: { cause: Error },
) => Error;

describe('Kafka error classification', () => {
  it('finds the protocol error type on the error or on the causes kafkajs wraps it in', () => {
    const tooLarge = protocolError(10);
    expect(kafkaErrorType(tooLarge)).toBe('MESSAGE_TOO_LARGE');
    expect(kafkaErrorType(new NonRetriable(tooLarge, { cause: tooLarge }))).toBe('MESSAGE_TOO_LARGE');
    // As it crosses back from the producer thread.
    expect(
      kafkaErrorType(new ProducerThreadError('KafkaJSProtocolError', 'm', false, 'RECORD_LIST_TOO_LARGE')),
    ).toBe('RECORD_LIST_TOO_LARGE');
  });

  it('names the errors no retry can fix, and only those', () => {
    expect(unretriableKafkaError(protocolError(18))).toBe('RECORD_LIST_TOO_LARGE');
    expect(unretriableKafkaError(protocolError(17))).toBe('INVALID_TOPIC_EXCEPTION');
    expect(unretriableKafkaError(protocolError(29))).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(unretriableKafkaError(protocolError(31))).toBe('CLUSTER_AUTHORIZATION_FAILED');
    expect(unretriableKafkaError(protocolError(6))).toBeUndefined(); // NOT_LEADER_FOR_PARTITION
    expect(unretriableKafkaError(new Error('Connection error'))).toBeUndefined();
  });
});
