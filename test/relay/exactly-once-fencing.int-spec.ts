/**
 * Kafka-side fencing of the exactly-once relay's producers, on the producer thread and in the relay
 * thread: a new holder of the stream's transactional.id fences the old one, whose late send fails
 * as ProducerFencedError; and what a read-committed consumer sees of a transaction left open by a
 * producer that died. Relies on Kafka transactions (a real broker) and kafkajs' read-committed default.
 */
import { Kafka, type Consumer } from 'kafkajs';
import { ProducerFencedError } from 'nest-change-stream';
import { KafkaPublisher } from '../../libs/change-stream/src/publisher/kafka-publisher';
import { ThreadedKafkaPublisher } from '../../libs/change-stream/src/publisher/producer-thread';
import { packMessages } from '../../libs/change-stream/src/publisher/outgoing-message';
import type { EventPublisher } from '../../libs/change-stream/src/publisher/event-publisher';
import { producerFenced } from '../../libs/change-stream/src/publisher/kafka-errors';
import {
  subscribeFromBeginning,
  TEST_CONSUMER_SETTINGS,
  TEST_KAFKA_SETTINGS,
} from '../support/kafka-clients';
import { uniqueName, useGround } from '../support/ground';
import { waitFor } from '../support/wait';

const TIMEOUT = 10_000;
const batch = (topic: string, value: string) => ({
  count: 1,
  parts: [packMessages([{ topic, key: 'k', value, headers: {} }])],
});

describe('exactly-once producers: Kafka fences the previous holder of a transactional id', () => {
  const ground = useGround({ mongo: false, kafka: true });
  const open: EventPublisher[] = [];
  const consumers: Consumer[] = [];
  const kafka = () =>
    new Kafka({ ...TEST_KAFKA_SETTINGS, clientId: 'eo-fencing', brokers: ground().kafkaBrokers });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((p) => p.disconnect()));
    await Promise.all(consumers.splice(0).map((c) => c.disconnect()));
  });

  /** Values read committed from `topic`, in order. */
  async function readCommitted(topic: string): Promise<string[]> {
    const values: string[] = [];
    const consumer = kafka().consumer({ ...TEST_CONSUMER_SETTINGS, groupId: uniqueName('rc') });
    consumers.push(consumer);
    await consumer.connect();
    await subscribeFromBeginning(consumer, [topic]);
    await consumer.run({ eachMessage: async ({ message }) => void values.push(String(message.value)) });
    return values;
  }

  function publisher(threaded: boolean, transactionalId: string): EventPublisher {
    const transactional = { transactionalId, transactionTimeout: TIMEOUT };
    const made = threaded
      ? new ThreadedKafkaPublisher({
          kafka: { ...TEST_KAFKA_SETTINGS, brokers: ground().kafkaBrokers },
          transactional,
        })
      : new KafkaPublisher(kafka(), {}, undefined, transactional);
    open.push(made);
    return made;
  }

  it.each([
    ['on the producer thread', true],
    ['in the relay thread', false],
  ])(
    'a deposed producer (%s) cannot send or commit once the new one fenced it',
    async (_where, threaded) => {
      const topic = uniqueName('eo-fence');
      const id = uniqueName('txn');
      const old = publisher(threaded, id);
      await old.fence();
      await old.send(batch(topic, 'old-1'));
      const values = await readCommitted(topic);
      await waitFor(() => values.includes('old-1'), { what: 'the old producer’s commit' });

      const next = publisher(threaded, id);
      await next.fence();
      const late = await old.send(batch(topic, 'old-late')).then(
        () => null,
        (error: unknown) => error,
      );
      expect(producerFenced(late)).toMatch(
        /INVALID_PRODUCER_EPOCH|PRODUCER_FENCED|INVALID_PRODUCER_ID_MAPPING/,
      );
      await next.send(batch(topic, 'new-1'));
      await waitFor(() => values.includes('new-1'), { what: 'the new producer’s commit' });
      expect(values).toEqual(['old-1', 'new-1']);
    },
    30_000,
  );

  it('classifies the deposed producer’s failure as ProducerFencedError (the term ends, no retry)', async () => {
    const { ExactlyOnceRelay } = await import('../../libs/change-stream/src/relay/exactly-once');
    const relay = new ExactlyOnceRelay(
      's',
      {
        kafka: { topicPrefix: 'cdc' },
        relay: { checkpointTopic: 'cdc-relay.checkpoints', transactionTimeoutMs: TIMEOUT },
      } as never,
      kafka(),
      { log: () => undefined, warn: () => undefined, error: () => undefined },
      () => [],
    );
    const id = relay.transactional.transactionalId + uniqueName('');
    const topic = uniqueName('eo-classify');
    const old = publisher(false, id);
    await old.fence();
    await old.send(batch(topic, 'a'));
    await publisher(false, id).fence();
    const late = await old.send(batch(topic, 'b')).then(
      () => null,
      (error: unknown) => error,
    );
    expect(() => relay.classify(late, 3)).toThrow(ProducerFencedError);
  }, 30_000);

  it('a takeover reads the last committed checkpoint up to its own marker, waiting out another stream’s open transaction', async () => {
    const { ExactlyOnceRelay } = await import('../../libs/change-stream/src/relay/exactly-once');
    const { EMPTY_POSITION } = await import('../../libs/change-stream/src/relay/checkpoint.store');
    const checkpointTopic = uniqueName('eo-ckpt');
    const options = {
      kafka: { topicPrefix: uniqueName('p') },
      relay: { checkpointTopic, transactionTimeoutMs: TIMEOUT },
    };
    const silent = { log: () => undefined, warn: () => undefined, error: () => undefined };
    const relay = new ExactlyOnceRelay('s1', options as never, kafka(), silent, () => []);
    const stop = new AbortController();
    try {
      const leader = publisher(false, relay.transactional.transactionalId);
      expect(await relay.takeOver(leader, 1, stop.signal)).toBeNull(); // a first start: the mirror decides
      const at = (n: number) => ({ ...EMPTY_POSITION, resumeToken: { _data: `tok-${n}` } });
      await leader.send(batch(uniqueName('ev'), 'e1'), relay.record(1, at(1)));
      // Another stream's leader holds a transaction open on the checkpoint topic, before our next commit.
      const other = kafka().producer({
        transactionalId: uniqueName('txn'),
        idempotent: true,
        maxInFlightRequests: 1,
      });
      await other.connect();
      const open = await other.transaction();
      await open.send({ topic: checkpointTopic, acks: -1, messages: [{ key: 's2', value: 'x' }] });
      await leader.send({ count: 0, parts: [] }, relay.record(1, at(2)));

      let read: unknown;
      const started = Date.now();
      const takeover = relay.takeOver(publisher(true, relay.transactional.transactionalId), 2, stop.signal);
      void takeover.then((position) => (read = position));
      await expect(
        waitFor(() => read !== undefined, { timeoutMs: 1_000, what: 'a read past the open transaction' }),
      ).rejects.toThrow();
      await open.abort();
      await other.disconnect();
      expect((await takeover)?.resumeToken).toEqual({ _data: 'tok-2' });
      process.stdout.write(
        `EO-MEASURE: takeover (fence + marker + read, blocked ~1 s by the open transaction) took ${Date.now() - started} ms\n`,
      );
      const quick = Date.now();
      expect(
        (await relay.takeOver(publisher(false, relay.transactional.transactionalId), 3, stop.signal))
          ?.resumeToken,
      ).toEqual({ _data: 'tok-2' });
      process.stdout.write(
        `EO-MEASURE: takeover with the standing reader, nothing open: ${Date.now() - quick} ms\n`,
      );
    } finally {
      stop.abort();
      await relay.stop();
    }
  }, 30_000);

  it('a transaction left open by a dead producer blocks read-committed consumers until the next holder fences it', async () => {
    const topic = uniqueName('eo-open');
    const id = uniqueName('txn');
    const dead = kafka().producer({
      transactionalId: id,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: 60_000,
    });
    await dead.connect();
    const transaction = await dead.transaction();
    await transaction.send({ topic, acks: -1, messages: [{ key: 'k', value: 'never-committed' }] });
    await dead.disconnect(); // dies mid-transaction: nothing commits or aborts it
    const other = publisher(false, uniqueName('txn'));
    await other.fence();
    await other.send(batch(topic, 'after')); // committed, but behind the open transaction
    const values = await readCommitted(topic);
    // NOTE: the stable offset stays at the open transaction: give the consumer time to show it would not read past it.
    await expect(
      waitFor(() => values.length > 0, { timeoutMs: 2_000, what: 'a read past the open transaction' }),
    ).rejects.toThrow();

    const started = Date.now();
    await publisher(false, id).fence(); // the takeover's InitProducerId aborts it
    await waitFor(() => values.includes('after'), { what: 'the committed record after the abort' });
    const unblockedMs = Date.now() - started;
    expect(values).toEqual(['after']);
    process.stdout.write(
      `EO-MEASURE: read-committed consumer unblocked ${unblockedMs} ms after the takeover's fence\n`,
    );
  }, 30_000);
});
