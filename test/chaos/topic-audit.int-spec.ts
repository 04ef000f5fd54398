/**
 * The chaos run's topic audit counts what a read-committed consumer sees: copies of an event count as
 * duplicates, an aborted transaction's messages are not seen (Kafka's read_committed isolation: the
 * fetch stops at the last stable offset and the aborted ranges are filtered out), and messages before
 * the run's start offsets are not counted.
 */
import { Kafka, type Producer } from 'kafkajs';
import { CHANGE_EVENT_HEADERS } from 'nest-change-stream';
import { TEST_KAFKA_SETTINGS } from '../support/kafka-clients';
import { uniqueName, useGround } from '../support/ground';
import { auditTopic, topicEnds } from './topic-audit';

describe('topic audit', () => {
  const ground = useGround({ mongo: false });
  let producer: Producer;
  let topic: string;

  beforeEach(async () => {
    topic = uniqueName('audit');
    await ground().createTopic(topic, 2);
    const kafka = new Kafka({
      ...TEST_KAFKA_SETTINGS,
      clientId: 'audit-spec',
      brokers: ground().kafkaBrokers,
    });
    producer = kafka.producer({
      transactionalId: uniqueName('audit-tx'),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
  });
  afterEach(() => producer.disconnect());

  const event = (id: string, partition: number) => ({
    topic,
    messages: [{ key: id, value: '{}', partition, headers: { [CHANGE_EVENT_HEADERS.eventId]: id } }],
  });
  async function inTransaction(outcome: 'commit' | 'abort', ...sends: ReturnType<typeof event>[]) {
    const tx = await producer.transaction();
    for (const send of sends) await tx.send(send);
    await (outcome === 'commit' ? tx.commit() : tx.abort());
  }

  it('counts copies per event id, from the start offsets, and never an aborted message', async () => {
    await inTransaction('commit', event('before-the-run', 0));
    const start = await topicEnds(ground().kafkaBrokers, topic);
    await inTransaction('commit', event('a', 0), event('b', 1));
    await inTransaction('abort', event('a', 0), event('c', 1));
    await inTransaction('commit', event('a', 0), event('d', 1));

    const audit = await auditTopic(ground().kafkaBrokers, topic, start, 30_000);

    expect(audit).toEqual({ messages: 4, distinctEvents: 3, duplicateMessages: 1, eventsRepublished: 1 });
  });
});
