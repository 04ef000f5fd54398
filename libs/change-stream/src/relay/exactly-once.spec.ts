import { KafkaJSNonRetriableError, KafkaJSProtocolError } from 'kafkajs';
import { resolveOptions } from '../options/resolve-options';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { KafkaRefusedError } from '../errors/kafka-refused.error';
import { ProducerFencedError } from '../errors/producer-fenced.error';
import type { ChangeStreamModuleOptions } from '../interfaces/change-stream-options.interface';
import { kafkaErrorType, producerFenced, transactionSetupFault } from '../publisher/kafka-errors';
import { ProducerThreadError } from '../publisher/producer-thread';
import { ExactlyOnceRelay } from './exactly-once';

const base = (relay: Record<string, unknown> = {}): ChangeStreamModuleOptions => ({
  mongo: { uri: 'mongodb://localhost:27017/?replicaSet=rs0' },
  kafka: { brokers: ['localhost:9092'], topicPrefix: 'shop' },
  streams: [{ db: 'shop', collection: 'orders' }],
  relay,
});
/** A broker's error as kafkajs raises it, wrapped by its retrier. */
const broker = (type: string, code = 0) => {
  const cause = new KafkaJSProtocolError({ type, code, message: type, retriable: false } as never);
  return new (KafkaJSNonRetriableError as unknown as new (e: Error, o: { cause: Error }) => Error)(cause, {
    cause,
  });
};
const silent = { log: () => undefined, warn: () => undefined, error: jest.fn() };
/** The transactional set-up of the stream shop.orders, which transactionSetupFault names in its fixes. */
const setup = {
  transactionalId: 'shop-relay.shop.orders',
  topics: ['shop.shop.orders'],
  checkpointTopic: 'shop-relay.checkpoints',
  transactionTimeoutMs: 60_000,
};

describe('exactly-once options', () => {
  it('defaults to at-least-once, a 60 s transaction timeout and <prefix>-relay.checkpoints', () => {
    expect(resolveOptions(base()).relay).toMatchObject({
      delivery: 'at-least-once',
      transactionTimeoutMs: 60_000,
      checkpointTopic: 'shop-relay.checkpoints',
    });
    expect(resolveOptions(base({ delivery: 'exactly-once', checkpointTopic: 'ckpt' })).relay).toMatchObject({
      delivery: 'exactly-once',
      checkpointTopic: 'ckpt',
    });
  });

  it.each([
    [{ delivery: 'exactly_once' }, 'relay.delivery'],
    [{ transactionTimeoutMs: 999 }, 'relay.transactionTimeoutMs'],
    [{ transactionTimeoutMs: 3_600_001 }, 'relay.transactionTimeoutMs'],
    [{ checkpointTopic: 'bad topic' }, 'relay.checkpointTopic'],
  ])('refuses %j naming %s', (relay, option) => {
    expect(() => resolveOptions(base(relay))).toThrow(InvalidOptionsError);
    expect(() => resolveOptions(base(relay))).toThrow(option);
  });
});

describe('transactional error classification: fenced producers and set-up faults', () => {
  it('tells a fenced producer, also across the producer thread and for code 90 kafkajs does not know', () => {
    expect(producerFenced(broker('INVALID_PRODUCER_EPOCH'))).toBe('INVALID_PRODUCER_EPOCH');
    expect(producerFenced(broker('INVALID_PRODUCER_ID_MAPPING'))).toBe('INVALID_PRODUCER_ID_MAPPING');
    expect(
      producerFenced(new ProducerThreadError('KafkaJSProtocolError', 'm', false, 'PRODUCER_FENCED')),
    ).toBe('PRODUCER_FENCED');
    const unknown = new KafkaJSProtocolError({
      type: 'KAFKAJS_UNKNOWN_ERROR_CODE',
      code: -99,
      message: 'Unknown error code 90',
    } as never);
    expect(kafkaErrorType(unknown)).toBe('PRODUCER_FENCED');
    expect(producerFenced(broker('NOT_LEADER_FOR_PARTITION'))).toBeUndefined();
  });

  it.each([
    [
      'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
      true,
      /WRITE and DESCRIBE on TransactionalId "shop-relay.shop.orders"/,
    ],
    ['CLUSTER_AUTHORIZATION_FAILED', true, /IDEMPOTENT_WRITE on the Cluster/],
    ['TOPIC_AUTHORIZATION_FAILED', true, /WRITE and DESCRIBE on the topics shop.shop.orders/],
    [
      'INVALID_TRANSACTION_TIMEOUT',
      true,
      /relay.transactionTimeoutMs \(60000 ms\).*transaction.max.timeout.ms/,
    ],
    ['UNSUPPORTED_VERSION', true, /brokers with transactions/],
    [
      'GROUP_AUTHORIZATION_FAILED',
      true,
      /READ on the consumer groups prefixed "shop-relay.checkpoints.reader." and READ on the topic shop-relay.checkpoints/,
    ],
    [
      'GROUP_COORDINATOR_NOT_AVAILABLE',
      false,
      /transaction.state.log.replication.factor.*transaction.state.log.min.isr/,
    ],
  ])('names what to fix for %s (stop: %s)', (type, stop, fix) => {
    expect(transactionSetupFault(broker(type), setup)).toMatchObject({
      type,
      stop,
      fix: expect.stringMatching(fix),
    });
  });
});

describe('transactional error classification: ExactlyOnceRelay.classify', () => {
  // NOTE: the test brokers run without an authorizer, so ACL refusals are kafkajs error stubs here.
  it('ends the term on a fenced producer, stops on a missing ACL, and fails the term (no fallback) without a coordinator', () => {
    const relay = new ExactlyOnceRelay(
      'shop.orders',
      resolveOptions(base({ delivery: 'exactly-once' })),
      {} as never,
      silent,
      () => ['shop.shop.orders'],
    );
    expect(relay.transactional).toEqual({
      transactionalId: 'shop-relay.shop.orders',
      transactionTimeout: 60_000,
    });
    expect(() => relay.classify(broker('INVALID_PRODUCER_EPOCH'), 4)).toThrow(ProducerFencedError);
    const acl = (() => {
      try {
        relay.classify(broker('TRANSACTIONAL_ID_AUTHORIZATION_FAILED'), 4);
      } catch (error) {
        return error as KafkaRefusedError;
      }
    })();
    expect(acl).toBeInstanceOf(KafkaRefusedError);
    expect(acl!.message).toMatch(
      /TransactionalId "shop-relay.shop.orders".*never falls back to at-least-once/,
    );
    expect(() => relay.classify(broker('GROUP_COORDINATOR_NOT_AVAILABLE'), 4)).toThrow(
      /transaction.state.log.replication.factor/,
    );
    expect(() => relay.classify(new Error('Connection error'), 4)).not.toThrow();
  });
});
