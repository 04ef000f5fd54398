import type { Kafka, TopicMessages } from 'kafkajs';
import { groupByTopic, KafkaPublisher } from './kafka-publisher';
import { packMessages } from './outgoing-message';

const message = (topic: string, key: string) => ({ topic, key, value: key, headers: {} });

describe('groupByTopic', () => {
  it('groups by topic and keeps the order within each topic', () => {
    expect(groupByTopic([message('a', '1'), message('b', '2'), message('a', '3')])).toEqual([
      {
        topic: 'a',
        messages: [
          { key: '1', value: '1', headers: {} },
          { key: '3', value: '3', headers: {} },
        ],
      },
      { topic: 'b', messages: [{ key: '2', value: '2', headers: {} }] },
    ]);
  });
});

describe('KafkaPublisher.send (in this thread)', () => {
  it('sends the packed messages from where they lie, in order, without joining them first', async () => {
    const sendBatch = jest.fn(async () => []);
    const kafka = { producer: () => ({ connect: async () => undefined, sendBatch }) };
    const publisher = new KafkaPublisher(kafka as unknown as Kafka);
    const parts = [packMessages([message('a', '1')]), packMessages([message('b', '2'), message('a', '3')])];
    await publisher.send({ count: 3, parts });
    const [{ topicMessages }] = sendBatch.mock.calls[0] as unknown as [{ topicMessages: TopicMessages[] }];
    expect(topicMessages.map((t) => [t.topic, t.messages.map((m) => String(m.key))])).toEqual([
      ['a', ['1', '3']],
      ['b', ['2']],
    ]);
    // A view of the event's own packed buffer: nothing was copied into a joined one.
    expect((topicMessages[0].messages[0].value as Buffer).buffer).toBe(parts[0].buffer);
  });
});
