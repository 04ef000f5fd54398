/**
 * A dead-lettered event against the ground (real kafkajs and mongodb clients, one worker in this
 * process): a later copy of it (a replay after a relay failover, a redelivery after a rebalance)
 * must not be applied after newer events of its document, and re-driving the dead-letter topic is
 * the explicit operation that does apply it, bypassing the dead-lettered marker.
 */
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MongoClient } from 'mongodb';
import { CHANGE_EVENT_HEADERS, DeadLetterRedriver } from 'nest-change-stream';
import { changeEvents } from 'nest-change-stream/testing';
import { spawnChild } from '../support/child-processes';
import { uniqueName, useGround } from '../support/ground';
import { waitFor } from '../support/wait';
import { ITEMS_DB, probe, type Item, type ItemView } from './fixtures/items.handlers';
import { changeEventProducer, testKafka, topicReader } from './fixtures/kafka-tools';
import { WorkerModule } from './fixtures/worker.module';

const PREFIX = uniqueName('dlr');
const TOPIC = `${PREFIX}.${ITEMS_DB}.items`;
const DLQ_TOPIC = `${TOPIC}.dlq`;
const ground = useGround({
  kafka: {
    topics: [
      { name: TOPIC, partitions: 2 },
      { name: DLQ_TOPIC, partitions: 1 },
    ],
  },
});

describe('a dead-lettered event (one worker, real clients)', () => {
  let app: INestApplicationContext;
  let client: MongoClient;
  let producer: Awaited<ReturnType<typeof changeEventProducer>>;
  let deadLetters: Awaited<ReturnType<typeof topicReader>>;

  const view = (id: string) => client.db(ITEMS_DB).collection<ItemView>('item_views').findOne({ _id: id });
  const markers = () => client.db('nest_change_stream').collection('change_stream_processed');
  const insert = (item: Item) => changeEvents.insert<Item>('items', item, { db: ITEMS_DB });
  const update = (item: Item) =>
    changeEvents.update<Item>(
      'items',
      item._id,
      { updatedFields: { seq: item.seq } },
      { db: ITEMS_DB, fullDocument: item },
    );

  beforeAll(async () => {
    const { mongoUrl, kafkaBrokers } = ground();
    client = await new MongoClient(mongoUrl).connect();
    const kafka = testKafka(kafkaBrokers);
    producer = await changeEventProducer(kafka);
    deadLetters = await topicReader(kafka, [DLQ_TOPIC], uniqueName('dlq-reader'));
    app = await NestFactory.createApplicationContext(
      WorkerModule.forRoot({ mongoUrl, kafkaBrokers, groupId: uniqueName('workers'), topicPrefix: PREFIX }),
      { logger: false },
    );
    await app.init();
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await deadLetters?.disconnect();
    await producer?.disconnect();
    await client?.close();
  }, 60_000);

  beforeEach(() => probe.reset());

  /** Runs `npm run dlq:redrive` (its script, as npm does) against the ground; resolves with exit code and output. */
  function runRedriveScript(
    args: string[],
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const { mongoUrl, kafkaBrokers } = ground();
    const child = spawnChild('node', ['-r', '@swc-node/register', 'scripts/dlq-redrive.ts', ...args], {
      env: { ...process.env, MONGO_URL: mongoUrl, KAFKA_BROKERS: kafkaBrokers.join(',') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
  }

  it('is not applied again by a replayed copy, after a newer event of its document; a re-drive applies it', async () => {
    const id = uniqueName('r');
    const old = insert({ _id: id, seq: 1 });
    probe.refused.add(id);
    await producer.send(TOPIC, [old]);
    await waitFor(
      () => deadLetters.messages.find((m) => m.headers[CHANGE_EVENT_HEADERS.eventId] === old._id._data),
      { what: 'the dead letter of the old event', timeoutMs: 20_000 },
    );
    expect(
      await markers().findOne({ handlerId: 'ItemsProjection.apply', eventId: old._id._data }),
    ).toMatchObject({
      outcome: 'dead-lettered',
    });

    // The handler works again; a newer event of the document is applied.
    probe.refused.delete(id);
    await producer.send(TOPIC, [update({ _id: id, seq: 2 })]);
    await waitFor(async () => (await view(id))?.applied === 1, { what: 'the newer event applied' });

    // The old event comes again (the relay republishes it after a failover), then a later event of the
    // same document: both land on the document's partition in this order.
    await producer.send(TOPIC, [old, update({ _id: id, seq: 3 })]);
    await waitFor(async () => (await view(id))?.seqs.includes(3), { what: 'the later event applied' });
    // Without the dead-lettered marker the replayed copy was applied after seq 2: [2, 1, 3].
    expect((await view(id))?.seqs).toEqual([2, 3]);
    expect(probe.attempts.get(old._id._data)).toBe(3);

    // Re-driving the dead-letter topic is explicit: it removes the dead-lettered marker and publishes
    // the event back to its topic, so the handler applies it now, after the newer events.
    const redriver = app.get(DeadLetterRedriver);
    expect(await redriver.redrive({ topic: DLQ_TOPIC })).toEqual({ read: 1, redriven: 1, skipped: 0 });
    await waitFor(async () => (await view(id))?.seqs.length === 3, { what: 'the re-driven event applied' });
    expect((await view(id))?.seqs).toEqual([2, 3, 1]);
    expect(
      await markers().findOne({ handlerId: 'ItemsProjection.apply', eventId: old._id._data }),
    ).toMatchObject({
      outcome: 'applied',
    });
    // Re-driving again publishes nothing: the event's marker now says it was applied.
    expect(await redriver.redrive({ topic: DLQ_TOPIC })).toEqual({ read: 1, redriven: 0, skipped: 1 });
  }, 60_000);

  it('is re-driven by `npm run dlq:redrive -- --topic <dlq> --handler <id>`, which names what it did', async () => {
    const id = uniqueName('s');
    const event = insert({ _id: id, seq: 1 });
    probe.refused.add(id);
    await producer.send(TOPIC, [event]);
    await waitFor(
      () => deadLetters.messages.find((m) => m.headers[CHANGE_EVENT_HEADERS.eventId] === event._id._data),
      { what: 'the dead letter', timeoutMs: 20_000 },
    );
    await waitFor(
      async () => (await markers().findOne({ eventId: event._id._data }))?.outcome === 'dead-lettered',
      { what: 'the dead-lettered marker' },
    );
    probe.refused.delete(id);

    const run = await runRedriveScript(['--topic', DLQ_TOPIC, '--handler', 'ItemsProjection.apply']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    // The letters of the first test, if it ran, were applied by its re-drive: they are skipped.
    expect(JSON.parse(run.stdout)).toMatchObject({ redriven: 1 });
    await waitFor(async () => (await view(id))?.applied === 1, { what: 'the re-driven event applied' });

    const missing = await runRedriveScript([]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('--topic is required');
  }, 60_000);
});
