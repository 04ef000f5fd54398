/**
 * One worker (ChangeStreamModule with the worker role) in this process, against the ground through
 * the real kafkajs and mongodb clients: exactly-once effect, duplicates, retries and dead letters,
 * undecodable messages, per-document order, and offsets committed by a graceful drain.
 */
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Kafka } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { CHANGE_EVENT_HEADERS, DEAD_LETTER_HEADERS as DLQ } from 'nest-change-stream';
import { changeEvents } from 'nest-change-stream/testing';
import { uniqueName, useGround } from '../support/ground';
import { waitFor } from '../support/wait';
import { ITEMS_DB, probe, type EffectRecord, type Item, type ItemView } from './fixtures/items.handlers';
import { changeEventProducer, testKafka, topicReader } from './fixtures/kafka-tools';
import { WorkerModule, type WorkerConfig } from './fixtures/worker.module';

const PREFIX = uniqueName('it');
const TOPIC = `${PREFIX}.${ITEMS_DB}.items`;
const DLQ_TOPIC = `${TOPIC}.dlq`;
const ground = useGround({
  kafka: {
    topics: [
      { name: TOPIC, partitions: 4 },
      { name: DLQ_TOPIC, partitions: 1 },
    ],
  },
});

describe('worker (one worker, real clients)', () => {
  let app: INestApplicationContext | undefined;
  let client: MongoClient;
  let kafka: Kafka;
  let producer: Awaited<ReturnType<typeof changeEventProducer>>;
  let deadLetters: Awaited<ReturnType<typeof topicReader>>;
  let config: WorkerConfig;

  const views = () => client.db(ITEMS_DB).collection<ItemView>('item_views');
  const effects = () => client.db(ITEMS_DB).collection<EffectRecord>('item_effects');
  const view = (id: string) => views().findOne({ _id: id });
  const insert = (item: Item) => changeEvents.insert<Item>('items', item, { db: ITEMS_DB });
  const update = (item: Item) =>
    changeEvents.update<Item>(
      'items',
      item._id,
      { updatedFields: { seq: item.seq } },
      { db: ITEMS_DB, fullDocument: item },
    );

  async function startWorker(): Promise<INestApplicationContext> {
    const worker = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), {
      logger: false,
    });
    await worker.init();
    return worker;
  }

  beforeAll(async () => {
    const { mongoUrl, kafkaBrokers } = ground();
    config = {
      mongoUrl,
      kafkaBrokers,
      groupId: uniqueName('workers'),
      topicPrefix: PREFIX,
      worker: { partitionConcurrency: 4 },
    };
    client = await new MongoClient(mongoUrl).connect();
    kafka = testKafka(kafkaBrokers);
    producer = await changeEventProducer(kafka);
    deadLetters = await topicReader(kafka, [DLQ_TOPIC], uniqueName('dlq-reader'));
    app = await startWorker();
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await deadLetters?.disconnect();
    await producer?.disconnect();
    await client?.close();
  }, 60_000);

  beforeEach(() => probe.reset());

  it('applies an event once, and skips a redelivered duplicate before calling the handler', async () => {
    const first = insert({ _id: uniqueName('a'), seq: 1 });
    const next = update({ _id: first.fullDocument._id, seq: 2 });
    // The same message twice (same event id), then a later event of the same document (same partition).
    await producer.send(TOPIC, [first, first, next]);

    await waitFor(async () => (await view(first.fullDocument._id))?.seqs.length === 2, {
      what: 'both events applied',
    });
    expect(await view(first.fullDocument._id)).toMatchObject({ seqs: [1, 2], applied: 2 });
    expect(await effects().countDocuments({ _id: first._id._data })).toBe(1);
    expect(probe.attempts.get(first._id._data)).toBe(1);
    const markers = client.db('nest_change_stream').collection('change_stream_processed');
    expect(await markers.countDocuments({ eventId: first._id._data })).toBe(2); // one per handler
    // The non-transactional handler also ran once: its marker was found on the redelivery.
    expect(probe.notified).toHaveLength(1);
  });

  it('retries a throwing handler, then dead-letters the message with headers, and the partition moves on', async () => {
    const id = uniqueName('f');
    const failing = insert({ _id: id, seq: 1, behaviour: 'fail' });
    const after = update({ _id: id, seq: 2 });
    await producer.send(TOPIC, [failing, after]);

    const letter = await waitFor(
      () => deadLetters.messages.find((m) => m.headers[CHANGE_EVENT_HEADERS.eventId] === failing._id._data),
      {
        what: 'the dead letter',
        timeoutMs: 20_000,
      },
    );
    expect(letter.headers).toMatchObject({
      [DLQ.reason]: 'handler-failed',
      [DLQ.handler]: 'ItemsProjection.apply',
      [DLQ.error]: `Error: item ${id} is refused (attempt 3)`,
      [DLQ.attempts]: '3',
      [DLQ.topic]: TOPIC,
      [DLQ.group]: config.groupId,
    });
    expect(letter.value).toContain(`"${id}"`);
    expect(probe.attempts.get(failing._id._data)).toBe(3);
    await waitFor(async () => (await view(id))?.applied === 1, {
      what: 'the next event of the document applied',
    });
    expect(await view(id)).toMatchObject({ seqs: [2] });
  });

  it('takes a poison message out of a shared transaction: its neighbours take effect once, in order', async () => {
    const id = uniqueName('p');
    // One document, so one partition; sent together, the four events normally reach the worker in one batch.
    const events = [
      insert({ _id: id, seq: 1 }),
      update({ _id: id, seq: 2, behaviour: 'fail' }),
      update({ _id: id, seq: 3 }),
      update({ _id: id, seq: 4 }),
    ];
    await producer.send(TOPIC, events);

    await waitFor(async () => (await view(id))?.applied === 3, {
      what: 'the three good events applied',
      timeoutMs: 20_000,
    });
    await waitFor(
      () => deadLetters.messages.find((m) => m.headers[CHANGE_EVENT_HEADERS.eventId] === events[1]._id._data),
      { what: 'the dead letter of the poison message' },
    );
    expect(await view(id)).toMatchObject({ seqs: [1, 3, 4], applied: 3 });
    // Each effect record was inserted once: the rolled-back shared transaction left none behind.
    const records = await effects()
      .find({ _id: { $in: events.map((e) => e._id._data) } })
      .toArray();
    expect(records.map((r) => r._id).sort()).toEqual(
      [events[0], events[2], events[3]].map((e) => e._id._data).sort(),
    );
    // The poison message ran 3 times (its attempts), events 3 and 4 once. Event 1 ran twice when it
    // shared the transaction the poison message aborted (the usual case), once when a fetch brought it alone.
    const [first, ...rest] = events.map((e) => probe.attempts.get(e._id._data));
    expect(rest).toEqual([3, 1, 1]);
    expect([1, 2]).toContain(first);
  });

  it('dead-letters an undecodable message at once and goes on with the next', async () => {
    const key = JSON.stringify({ _id: uniqueName('u') });
    await producer.sendRaw(TOPIC, [
      { key, value: '{"operationType": "insert", "_id": ' },
      {
        key,
        value: JSON.stringify({ hello: 'not a change event' }),
        headers: { [CHANGE_EVENT_HEADERS.eventId]: 'foreign-1' },
      },
    ]);
    const good = insert({ _id: uniqueName('g'), seq: 1 });
    await producer.send(TOPIC, [good]);

    await waitFor(
      () => deadLetters.messages.filter((m) => m.headers[DLQ.reason] === 'undecodable').length === 2,
      {
        what: 'two undecodable dead letters',
      },
    );
    const letters = deadLetters.messages.filter((m) => m.headers[DLQ.reason] === 'undecodable');
    expect(letters.map((l) => [l.headers[DLQ.attempts], l.headers[DLQ.handler], l.key])).toEqual([
      ['0', '', key],
      ['0', '', key],
    ]);
    expect(letters[0].headers[DLQ.error]).toMatch(
      /^UndecodableMessageError: message value is not valid Extended JSON/,
    );
    expect(letters[1].headers[DLQ.error]).toBe(
      'UndecodableMessageError: message value has no string operationType (not a change event)',
    );
    await waitFor(async () => (await view(good.fullDocument._id))?.applied === 1, {
      what: 'the good event applied',
    });
  });

  it("keeps each document's order while partitions are handled concurrently", async () => {
    const ids = Array.from({ length: 12 }, () => uniqueName('o'));
    const versions = 15;
    const events = [];
    for (let seq = 1; seq <= versions; seq++)
      for (const id of ids)
        events.push(seq === 1 ? insert({ _id: id, seq }) : update({ _id: id, seq, workMs: seq % 3 }));
    await producer.send(TOPIC, events);

    await waitFor(
      async () => (await views().countDocuments({ _id: { $in: ids }, applied: versions })) === ids.length,
      {
        what: 'every version of every document applied',
        timeoutMs: 30_000,
      },
    );
    const expected = Array.from({ length: versions }, (_, i) => i + 1);
    for (const doc of await views()
      .find({ _id: { $in: ids } })
      .toArray())
      expect(doc.seqs).toEqual(expected);
  });

  it('commits offsets on a graceful drain, so a restarted worker does not see the same messages again', async () => {
    const before = insert({ _id: uniqueName('d'), seq: 1 });
    await producer.send(TOPIC, [before]);
    await waitFor(async () => (await view(before.fullDocument._id))?.applied === 1, {
      what: 'the event applied',
    });

    await app!.close();
    app = undefined;
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [committed] = await admin.fetchOffsets({ groupId: config.groupId, topics: [TOPIC] });
      const ends = await admin.fetchTopicOffsets(TOPIC);
      // A partition that never held a message has no committed offset on a Kafka broker (-1).
      expect(committed.partitions.map((p) => [p.partition, p.offset]).sort()).toEqual(
        ends.map((p) => [p.partition, p.high === '0' ? '-1' : p.high]).sort(),
      );
    } finally {
      await admin.disconnect();
    }

    probe.reset();
    app = await startWorker();
    const after = update({ _id: before.fullDocument._id, seq: 2 });
    await producer.send(TOPIC, [after]);
    await waitFor(async () => (await view(before.fullDocument._id))?.applied === 2, {
      what: 'the new event applied',
      timeoutMs: 20_000,
    });
    expect([...probe.attempts.keys()]).toEqual([after._id._data]);
  });
});
