/**
 * Relay benchmark: events per second from MongoDB to Kafka acknowledgement, for the library's relay
 * and for a naive relay (one awaited send and one awaited checkpoint write per event), on the
 * same ground, plus the raw change-stream read rate and the raw produce rate as ceilings.
 *
 *   node -r @swc-node/register bench/relay.ts
 *
 * Env: BENCH_EVENTS (default 60000: long enough for the steady state; at 20000 the relay ran 2.5 s, much of it JIT warm-up), BENCH_NAIVE_EVENTS (default 2000), BENCH_DOC_BYTES (default 300);
 * MONGO_URL / KAFKA_BROKERS to run against other servers than the MongoDB stand-in and the Apache
 * Kafka broker started here. Every rate of a run is measured against the same broker.
 * Every run measures a backlog: documents are inserted first, then the reader starts from the
 * operation time recorded before the inserts, so the figures are the relay's own throughput.
 * `measureRelay()` is the measurement (bench/report.ts runs it with the other parts).
 */
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
import { Kafka, logLevel, type Message } from 'kafkajs';
import { MongoClient, Timestamp, type Document } from 'mongodb';
import { ChangeStreamModule, ChangeStreamStatus, encodeChangeEvent } from 'nest-change-stream';
import { startGround, uniqueName, type Ground } from '../test/support/ground';
import { startMongoProcess } from './support/servers';
import { runAlone, say, since, type Log, type PartResult } from './support/report';

export interface RelayOptions {
  events?: number;
  naiveEvents?: number;
  docBytes?: number;
  log?: Log;
}

/** The figures of one relay benchmark run, events/s. */
export interface RelayFigures {
  rawRead: number;
  rawProduce: number;
  naive: number;
  relay: number;
  /** relay / naive. */
  versusNaive: number;
  /** relay / min(raw read, raw produce). */
  versusCeiling: number;
}

export const RELAY_VS_NAIVE_TARGET = 20;
export const RELAY_VS_CEILING_TARGET = 0.7;
/** Published CPU per message of other relays, for comparison (not a target). */
const PUBLISHED_CPU =
  'reference: MongoDB Kafka connector ~67 µs/message, Debezium ~46 µs/message (ConduitIO streaming benchmarks 2025)';

let DOC_BYTES = 300;
const KAFKA = { logLevel: logLevel.NOTHING, retry: { initialRetryTime: 100, retries: 8 } };

/**
 * One measurement. The rate is taken after the first acknowledged event (or batch): `events` and
 * `ms` count from there, so one-time start-up (connecting a producer, opening a cursor, a new
 * leader's epoch) does not depend on the backlog size; `startupMs` reports it.
 */
export interface Figure {
  name: string;
  events: number;
  ms: number;
  startupMs: number;
  /** All events over the whole window, start-up included (events/s). */
  wholeRate: number;
  /** CPU time of this process (all threads, user + system) over `ms`, µs. */
  cpuMicros: number;
}
export const rate = (f: Figure) => Math.round((f.events / f.ms) * 1000);
export const cpuPerEvent = (f: Figure) => f.cpuMicros / Math.max(1, f.events);
const cpuNow = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

/** Called by a measurement when its first event (or batch) is done, with the number done so far. */
type MarkFirst = (done: number) => void;

async function timed(
  log: Log,
  name: string,
  events: number,
  run: (markFirst: MarkFirst) => Promise<void>,
): Promise<Figure> {
  const now = () => Number(process.hrtime.bigint()) / 1e6;
  const start = now();
  const startCpu = cpuNow();
  let first: { at: number; done: number; cpu: number } | undefined;
  await run((done) => (first ??= { at: now(), done, cpu: cpuNow() }));
  const end = now();
  const endCpu = cpuNow();
  const { at, done, cpu } = first ?? { at: start, done: 0, cpu: startCpu };
  const figure: Figure = {
    name,
    events: events - done,
    ms: end - at,
    startupMs: at - start,
    wholeRate: Math.round((events / (end - start)) * 1000),
    cpuMicros: endCpu - cpu,
  };
  log(
    `${name.padEnd(34)} ${String(events).padStart(7)} events: ${String(rate(figure)).padStart(7)} events/s ` +
      `after the first (${figure.startupMs.toFixed(0)} ms to it; ${figure.wholeRate} events/s over the whole ${(end - start).toFixed(0)} ms); ` +
      `this process ${cpuPerEvent(figure).toFixed(1)} µs CPU per event after the first`,
  );
  return figure;
}

/** Inserts `count` documents and returns the operation time recorded before the first. */
export async function backlog(mongo: MongoClient, db: string, count: number): Promise<Timestamp> {
  // NOTE: a marker write first, so the recorded time is one the oplog holds.
  await mongo.db(db).collection('marker').insertOne({ at: new Date() });
  const reply = await mongo.db('admin').command({ ping: 1 });
  const start = reply.operationTime as Timestamp;
  const payload = 'x'.repeat(DOC_BYTES);
  const orders = mongo.db(db).collection<Document>('orders');
  for (let i = 0; i < count; i += 1_000) {
    await orders.insertMany(
      Array.from({ length: Math.min(1_000, count - i) }, (_, j) => ({ seq: i + j, status: 'new', payload })),
    );
  }
  return start;
}

async function rawRead(
  mongo: MongoClient,
  db: string,
  from: Timestamp,
  count: number,
  markFirst: MarkFirst,
): Promise<void> {
  const stream = mongo
    .db(db)
    .collection('orders')
    .watch([], { startAtOperationTime: from, batchSize: 1_000 });
  try {
    for (let n = 0; n < count;) {
      if (!(await stream.tryNext())) continue;
      if (++n === 1) markFirst(n);
    }
  } finally {
    await stream.close();
  }
}

async function rawProduce(kafka: Kafka, topic: string, count: number, markFirst: MarkFirst): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const event = {
    _id: { _data: '82' + '0'.repeat(60) },
    operationType: 'insert',
    ns: { db: 'bench', coll: 'orders' },
    documentKey: { _id: 1 },
    fullDocument: { payload: 'x'.repeat(DOC_BYTES) },
  };
  try {
    for (let i = 0; i < count; i += 500) {
      const messages: Message[] = Array.from({ length: Math.min(500, count - i) }, (_, j) => {
        const encoded = encodeChangeEvent({ ...event, documentKey: { _id: i + j } }, String(i + j), 1);
        return { key: encoded.key, value: encoded.value, headers: encoded.headers };
      });
      await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages }] });
      markFirst(i + messages.length);
    }
  } finally {
    await producer.disconnect();
  }
}

/** The relay as commonly written: one awaited send and one awaited checkpoint write per event. */
async function naive(
  mongo: MongoClient,
  kafka: Kafka,
  db: string,
  from: Timestamp,
  count: number,
  markFirst: MarkFirst,
): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const state = mongo.db(db).collection<{ _id: string; token?: unknown }>('naive_state');
  const stream = mongo
    .db(db)
    .collection('orders')
    .watch<Document, Document>([], { startAtOperationTime: from });
  try {
    for (let n = 0; n < count;) {
      const change = await stream.tryNext();
      if (!change) continue;
      await producer.send({
        topic: `naive.${db}.orders`,
        acks: -1,
        messages: [{ key: JSON.stringify(change.documentKey), value: JSON.stringify(change) }],
      });
      await state.updateOne({ _id: 'orders' }, { $set: { token: change._id } }, { upsert: true });
      if (++n === 1) markFirst(n);
    }
  } finally {
    await stream.close();
    await producer.disconnect();
  }
}

/**
 * Boots the module (not timed), then times from the moment this replica leads until Kafka acknowledged
 * every event. `delivery`: the relay's `relay.delivery` (default: the library's).
 */
export async function relay(
  log: Log,
  ground: Ground,
  db: string,
  from: Timestamp,
  count: number,
  delivery?: 'exactly-once' | 'at-least-once',
): Promise<Figure> {
  @Module({
    imports: [
      ChangeStreamModule.forRoot({
        worker: false,
        mongo: { uri: ground.mongoUrl },
        kafka: { brokers: ground.kafkaBrokers, ...KAFKA },
        streams: [{ db, collection: 'orders', startAtOperationTime: from }],
        ...(delivery ? { relay: { delivery } } : {}),
      }),
    ],
  })
  class BenchModule {}
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: ['error', 'warn'] });
  try {
    const status = app.get(ChangeStreamStatus);
    const stream = () => status.snapshot().streams[0];
    while (stream()?.role !== 'leader') await new Promise((r) => setImmediate(r));
    const name = delivery ? `relay (${delivery})` : 'nest-change-stream relay';
    return await timed(log, name, count, async (markFirst) => {
      for (let published = 0; published < count; published = stream().eventsPublished) {
        if (published > 0) markFirst(published);
        await new Promise((r) => setTimeout(r, 2));
      }
    });
  } finally {
    await app.close();
  }
}

/**
 * Runs the four measurements on one ground (the MongoDB stand-in in its own process, as a real server
 * would be, so its work does not share this process's event loop with the relay being measured).
 */
export async function measureRelay(
  options: RelayOptions = {},
): Promise<PartResult & { relay: RelayFigures }> {
  const events = options.events ?? Number(process.env.BENCH_EVENTS ?? 60_000);
  const naiveEvents = options.naiveEvents ?? Number(process.env.BENCH_NAIVE_EVENTS ?? 2_000);
  DOC_BYTES = options.docBytes ?? Number(process.env.BENCH_DOC_BYTES ?? 300);
  const log = options.log ?? say;
  const started = performance.now();
  Logger.overrideLogger(['error']);
  const mongoProcess = process.env.MONGO_URL ? undefined : await startMongoProcess();
  const ground = await startGround({ mongo: !mongoProcess });
  if (mongoProcess) ground.mongoUrl = mongoProcess.url;
  const mongo = await new MongoClient(ground.mongoUrl).connect();
  const kafka = new Kafka({ ...KAFKA, clientId: 'bench', brokers: ground.kafkaBrokers });
  const kafkaKind = ground.kafka
    ? `Apache Kafka ${ground.kafka.version} (1 broker, a JVM started here)`
    : `cluster at ${ground.kafkaBrokers.join(',')}`;
  try {
    log(
      `relay: MongoDB ${mongoProcess ? 'stand-in (own process)' : 'server'}, Kafka: ${kafkaKind}; ${DOC_BYTES}-byte documents`,
    );
    const readDb = uniqueName('bench_read');
    const readFrom = await backlog(mongo, readDb, events);
    const read = await timed(log, 'raw change-stream read', events, (markFirst) =>
      rawRead(mongo, readDb, readFrom, events, markFirst),
    );
    const produce = await timed(log, 'raw produce (sendBatch 500, acks all)', events, (markFirst) =>
      rawProduce(kafka, uniqueName('bench_raw'), events, markFirst),
    );

    const naiveDb = uniqueName('bench_naive');
    const naiveFrom = await backlog(mongo, naiveDb, naiveEvents);
    const naiveFigure = await timed(log, 'naive relay (send + write each)', naiveEvents, (markFirst) =>
      naive(mongo, kafka, naiveDb, naiveFrom, naiveEvents, markFirst),
    );

    const relayDb = uniqueName('bench_relay');
    const relayFrom = await backlog(mongo, relayDb, events);
    const relayFigure = await relay(log, ground, relayDb, relayFrom, events);

    const ceiling = Math.min(rate(read), rate(produce));
    const figures: RelayFigures = {
      rawRead: rate(read),
      rawProduce: rate(produce),
      naive: rate(naiveFigure),
      relay: rate(relayFigure),
      versusNaive: rate(relayFigure) / rate(naiveFigure),
      versusCeiling: rate(relayFigure) / ceiling,
    };
    const perSecond = (n: number) => `${n.toLocaleString('en-US')} events/s`;
    const whole = (f: Figure) =>
      `; first after ${f.startupMs.toFixed(0)} ms; ${f.wholeRate.toLocaleString('en-US')} events/s with it`;
    return {
      title: 'Relay throughput (MongoDB commit -> Kafka acknowledgement)',
      relay: figures,
      checks: [
        {
          name: 'relay / naive relay',
          value: `${figures.versusNaive.toFixed(2)}x`,
          target: `>= ${RELAY_VS_NAIVE_TARGET}x`,
          pass: figures.versusNaive >= RELAY_VS_NAIVE_TARGET,
        },
        {
          name: 'relay / min(raw read, raw produce)',
          value: `${(figures.versusCeiling * 100).toFixed(0)}%`,
          target: `>= ${RELAY_VS_CEILING_TARGET * 100}%`,
          pass: figures.versusCeiling >= RELAY_VS_CEILING_TARGET,
        },
        {
          name: 'relay CPU per event (this process, all threads)',
          value: `${cpuPerEvent(relayFigure).toFixed(1)} µs`,
          target: PUBLISHED_CPU,
        },
      ],
      figures: [
        ['relay', `${perSecond(figures.relay)} (${events} events)${whole(relayFigure)}`],
        [
          'relay CPU (this process) after its first batch',
          `${(relayFigure.cpuMicros / 1e6).toFixed(2)} s in ${(relayFigure.ms / 1000).toFixed(2)} s ` +
            `(${((relayFigure.cpuMicros / 1000 / relayFigure.ms) * 100).toFixed(0)}% of one core)`,
        ],
        [
          'naive relay (one awaited send and one checkpoint write per event)',
          `${perSecond(figures.naive)} (${naiveEvents} events)${whole(naiveFigure)}`,
        ],
        ['raw change-stream read', `${perSecond(figures.rawRead)}${whole(read)}`],
        [
          'raw produce (sendBatch of 500, acks all, idempotent)',
          `${perSecond(figures.rawProduce)}${whole(produce)}`,
        ],
        [
          'whole-window ratios (start-up included): relay / naive, relay / lower raw',
          `${(relayFigure.wholeRate / naiveFigure.wholeRate).toFixed(2)}x, ` +
            `${((relayFigure.wholeRate / Math.min(read.wholeRate, produce.wholeRate)) * 100).toFixed(0)}%`,
        ],
      ],
      conditions: [
        `MongoDB ${mongoProcess ? 'stand-in in its own process' : 'server (MONGO_URL)'}; Kafka: ${kafkaKind}; the raw produce rate is measured against the same broker`,
        `${DOC_BYTES}-byte payloads, a backlog of ${events} inserts read from a recorded operation time`,
        'the relay runs in the benchmark process with the library defaults (batchSize 500, maxInFlightEvents 5 000, its producer in a worker thread)',
        "relay CPU per event = this process's CPU time (process.cpuUsage(): user + system, all threads: the relay's main thread, its producer thread, libuv's pool, GC) over the relay's rate window, divided by the events in it; it also holds the benchmark's poll of the relay's status every 2 ms and its idle clients, and excludes the MongoDB stand-in and the Kafka broker (other processes)",
        "each rate counts from its first acknowledged event or batch (relay: from its first published batch after it became leader; raw produce: after its first sendBatch; raw read and naive: after their first event); the time to that first one is printed beside it and is the failover part's concern",
      ],
      notes: [],
      seconds: since(started),
    };
  } finally {
    await mongo.close();
    await ground.stop();
    await mongoProcess?.stop();
  }
}

if (require.main === module) runAlone(() => measureRelay());
