import type { Kafka, ProducerRecord } from 'kafkajs';
import type { ChangeMessage } from './change-message';
import type { WorkerModuleOptions } from './worker-module-options';
import type { DeadLetter } from './dead-letter';
import { KafkaDeadLetterPublisher } from './kafka-dead-letter.publisher';

describe('KafkaDeadLetterPublisher', () => {
  const message = (offset: string): ChangeMessage => ({
    topic: 'cdc.shop.orders',
    partition: 0,
    offset,
    key: null,
    value: Buffer.from('{"hello":"not a change event"}'),
    headers: {},
  });
  const undecodable = (offset: string): DeadLetter => ({
    message: message(offset),
    reason: 'undecodable',
    error: new Error('not a change event'),
    attempts: 0,
  });

  function setup(refuse: () => boolean = () => false) {
    const sent: ProducerRecord[] = [];
    const producer = {
      connect: async () => undefined,
      disconnect: async () => undefined,
      send: async (record: ProducerRecord) => {
        if (refuse()) throw new Error('broker down');
        sent.push(record);
        return [];
      },
    };
    const kafka = { producer: () => producer } as unknown as Kafka;
    const options = { worker: { deadLetterSuffix: '.dlq', groupId: 'g' } } as WorkerModuleOptions;
    return { publisher: new KafkaDeadLetterPublisher(kafka, options), sent };
  }

  it('counts every stored dead letter by reason and handler, undecodable ones included', async () => {
    const { publisher, sent } = setup();
    await publisher.connect();
    for (const offset of ['1', '2', '3', '4']) await publisher.send(undecodable(offset));
    await publisher.send({ ...undecodable('5'), reason: 'handler-failed', handlerId: 'h', attempts: 3 });
    expect(sent.map((r) => r.topic)).toEqual(Array(5).fill('cdc.shop.orders.dlq'));
    expect(publisher.counts()).toEqual([
      { reason: 'undecodable', handler: '', count: 4 },
      { reason: 'handler-failed', handler: 'h', count: 1 },
    ]);
  });

  it('does not count a dead letter Kafka did not take', async () => {
    let refusals = 1;
    const { publisher } = setup(() => refusals-- > 0);
    await publisher.connect();
    await expect(publisher.send(undecodable('1'))).rejects.toThrow('broker down');
    await publisher.send(undecodable('1'));
    expect(publisher.counts()).toEqual([{ reason: 'undecodable', handler: '', count: 1 }]);
  });
});
