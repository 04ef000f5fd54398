import { resolveKafka, unclonableSetting } from './kafka';

describe('unclonableSetting', () => {
  it('names the first setting that cannot move to another thread', () => {
    expect(unclonableSetting({ kafka: { brokers: ['a:1'], ssl: true, sasl: undefined } })).toBeNull();
    expect(unclonableSetting({ kafka: { brokers: ['a:1'], logCreator: () => () => undefined } })).toBe(
      'kafka.logCreator',
    );
    expect(
      unclonableSetting({ kafka: { brokers: ['a:1'] }, producer: { createPartitioner: () => () => 0 } }),
    ).toBe('kafka.producer.createPartitioner');
  });
});

describe('resolveKafka', () => {
  it('accepts every kafkajs client setting, and refuses an unknown key naming it', () => {
    expect(resolveKafka({ brokers: ['a:1'], clientId: 'x', requestTimeout: 1_000 })).toMatchObject({
      clientId: 'x',
      topicPrefix: 'cdc',
    });
    expect(() => resolveKafka({ brokers: ['a:1'], clientID: 'typo' })).toThrow(
      expect.objectContaining({ option: 'kafka.clientID' }),
    );
  });

  it('refuses producerThread: true with a setting that cannot move to another thread', () => {
    expect(() =>
      resolveKafka({ brokers: ['a:1'], producerThread: true, logCreator: () => () => undefined }),
    ).toThrow(/"kafka\.logCreator" cannot/);
  });
});
