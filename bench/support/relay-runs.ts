/**
 * The relay benchmark's measurements, each timed from its first acknowledged event (or batch): the
 * raw change-stream read, the raw produce, the naive relay and the library's relay (in a Nest
 * application context in this process), with their CPU time: the whole process, its main thread and,
 * for the relay, its producer thread. bench/relay.ts and bench/exactly-once.ts run them.
 */
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Kafka, logLevel, type Message } from 'kafkajs';
import { MongoClient, Timestamp, type Document } from 'mongodb';
import { ChangeStreamModule, ChangeStreamStatus, encodeChangeEvent } from 'nest-change-stream';
import type { Ground } from '../../test/support/ground';
import type { Log } from './report';
import { threadCpuMicros } from './stats';

/** kafkajs settings of every client of the relay benchmark. */
export const KAFKA = { logLevel: logLevel.NOTHING, retry: { initialRetryTime: 100, retries: 8 } };

/** The relay's delivery modes (`relay.delivery`). */
export const DELIVERIES = ['at-least-once', 'exactly-once'] as const;
export type Delivery = (typeof DELIVERIES)[number];

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
  /** CPU time of the main thread over `ms`, µs (Linux only: /proc/self/task). */
  mainMicros?: number;
  /** CPU time of the threads the measured code started (the relay's producer thread) over `ms`, µs. */
  producerMicros?: number;
  /** The rate window on the clock of process.hrtime (and of V8's CPU profiles), µs. */
  window: { fromUs: number; toUs: number };
}
export const rate = (f: Figure) => Math.round((f.events / f.ms) * 1000);
export const cpuPerEvent = (f: Figure) => f.cpuMicros / Math.max(1, f.events);
/** Main thread plus producer thread, µs per event (undefined where threads cannot be read). */
export const threadsPerEvent = (f: Figure) =>
  f.mainMicros === undefined ? undefined : (f.mainMicros + (f.producerMicros ?? 0)) / Math.max(1, f.events);

const cpuNow = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

/** Called by a measurement when its first event (or batch) is done, with the number done so far. */
type MarkFirst = (done: number) => void;

interface Mark {
  at: number;
  done: number;
  cpu: number;
  threads: Map<number, number>;
}

/** The CPU of the main thread and of the threads not in `existing`, between two readings, µs. */
function threadShares(from: Map<number, number>, to: Map<number, number>, existing: Set<number>) {
  if (!to.has(process.pid)) return {};
  let producerMicros = 0;
  for (const [tid, micros] of to) if (!existing.has(tid)) producerMicros += micros - (from.get(tid) ?? 0);
  return { mainMicros: to.get(process.pid)! - (from.get(process.pid) ?? 0), producerMicros };
}

/** Times `run` from its first event to its end; threads not in `existing` count as its own threads. */
export async function timed(
  log: Log,
  name: string,
  events: number,
  run: (markFirst: MarkFirst) => Promise<void>,
  existing: Set<number> = new Set(threadCpuMicros().keys()),
): Promise<Figure> {
  const now = () => Number(process.hrtime.bigint()) / 1e6;
  const mark = (done: number): Mark => ({ at: now(), done, cpu: cpuNow(), threads: threadCpuMicros() });
  const start = mark(0);
  let first: Mark | undefined;
  await run((done) => (first ??= mark(done)));
  const end = mark(events);
  const from = first ?? start;
  const figure: Figure = {
    name,
    events: events - from.done,
    ms: end.at - from.at,
    startupMs: from.at - start.at,
    wholeRate: Math.round((events / (end.at - start.at)) * 1000),
    cpuMicros: end.cpu - from.cpu,
    window: { fromUs: from.at * 1000, toUs: end.at * 1000 },
    ...threadShares(from.threads, end.threads, existing),
  };
  const threads = threadsPerEvent(figure);
  log(
    `${name.padEnd(34)} ${String(events).padStart(7)} events: ${String(rate(figure)).padStart(7)} events/s ` +
      `after the first (${figure.startupMs.toFixed(0)} ms to it; ${figure.wholeRate} events/s over the whole ${(end.at - start.at).toFixed(0)} ms); ` +
      `CPU per event after the first: process ${cpuPerEvent(figure).toFixed(1)} µs` +
      (threads === undefined
        ? ''
        : `, main thread ${(figure.mainMicros! / figure.events).toFixed(1)} µs` +
          (figure.producerMicros
            ? `, producer thread ${(figure.producerMicros / figure.events).toFixed(1)} µs`
            : '')),
  );
  return figure;
}

/** Inserts `count` documents with a `docBytes` payload; returns the operation time recorded before the first. */
export async function backlog(
  mongo: MongoClient,
  db: string,
  count: number,
  docBytes = 300,
): Promise<Timestamp> {
  // NOTE: a marker write first, so the recorded time is one the oplog holds.
  await mongo.db(db).collection('marker').insertOne({ at: new Date() });
  const reply = await mongo.db('admin').command({ ping: 1 });
  const start = reply.operationTime as Timestamp;
  const payload = 'x'.repeat(docBytes);
  const orders = mongo.db(db).collection<Document>('orders');
  for (let i = 0; i < count; i += 1_000) {
    await orders.insertMany(
      Array.from({ length: Math.min(1_000, count - i) }, (_, j) => ({ seq: i + j, status: 'new', payload })),
    );
  }
  return start;
}

/** Reads `count` events of the backlog with the driver's change stream (its default decoding). */
export async function rawRead(
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

/**
 * Produces `count` change events with kafkajs, 500 per sendBatch, acks all, idempotent: the messages
 * are encoded (key, value and headers as bytes, the partition named) before the first send, so the
 * CPU in the window is kafkajs' own (record encoding, CRC, the network): the producer's floor.
 */
export async function rawProduce(
  kafka: Kafka,
  topic: string,
  count: number,
  docBytes: number,
  markFirst: MarkFirst,
): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const event = {
    _id: { _data: '82' + '0'.repeat(60) },
    operationType: 'insert',
    ns: { db: 'bench', coll: 'orders' },
    documentKey: { _id: 1 },
    fullDocument: { payload: 'x'.repeat(docBytes) },
  };
  const messages: Message[] = Array.from({ length: count }, (_, i) => {
    const encoded = encodeChangeEvent({ ...event, documentKey: { _id: i } }, String(i), 1);
    const headers = Object.fromEntries(Object.entries(encoded.headers).map(([k, v]) => [k, Buffer.from(v)]));
    return { key: Buffer.from(encoded.key), value: Buffer.from(encoded.value), headers, partition: 0 };
  });
  try {
    for (let i = 0; i < count; i += 500) {
      const batch = messages.slice(i, i + 500);
      await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages: batch }] });
      markFirst(i + batch.length);
    }
  } finally {
    await producer.disconnect();
  }
}

/** The relay as commonly written: one awaited send and one awaited checkpoint write per event. */
export async function naive(
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
 * every event. `delivery`: the relay's `relay.delivery` (default: the library's). The threads the
 * module starts (its producer thread) are told apart from the process's others.
 */
export async function relay(
  log: Log,
  ground: Ground,
  db: string,
  from: Timestamp,
  count: number,
  delivery?: Delivery,
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
  const existing = new Set(threadCpuMicros().keys());
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: ['error', 'warn'] });
  try {
    const status = app.get(ChangeStreamStatus);
    const stream = () => status.snapshot().streams[0];
    while (stream()?.role !== 'leader') await new Promise((r) => setImmediate(r));
    const name = delivery ? `relay (${delivery})` : 'nest-change-stream relay';
    return await timed(
      log,
      name,
      count,
      async (markFirst) => {
        for (let published = 0; published < count; published = stream().eventsPublished) {
          if (published > 0) markFirst(published);
          await new Promise((r) => setTimeout(r, 2));
        }
      },
      existing,
    );
  } finally {
    await app.close();
  }
}
