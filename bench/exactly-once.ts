/**
 * What exactly-once costs, measured in one run:
 * - the relay with `relay.delivery: 'exactly-once'` (each batch and its checkpoint record one Kafka
 *   transaction) against `'at-least-once'` (idempotent sends, checkpoint in MongoDB): throughput and
 *   CPU per event on the same ground, rounds alternating so drift of a noisy machine hits both;
 * - the example service's worker with `worker.dedupe: 'offsets'` (one applied-offset upsert per
 *   shared transaction) against `'markers'` (one processed marker per event), each on fresh servers.
 *
 *   node -r @swc-node/register bench/exactly-once.ts [--rounds=3] [--relay-events=30000] [--events=4000]
 *
 * Prints figures with their targets (exactly-once >= 80% of at-least-once; offsets >= markers);
 * asserts nothing.
 */
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { MongoClient } from 'mongodb';
import { startGround, uniqueName } from '../test/support/ground';
import { startMongoProcess } from './support/servers';
import { runAlone, say, since, type Log, type PartResult } from './support/report';
import { numberFlag } from './support/worker-scenarios';
import { backlog, cpuPerEvent, rate, relay, type Figure } from './relay';
import { measureWorker } from './worker';

export const EXACTLY_ONCE_THROUGHPUT_TARGET = 0.8;
const MODES = ['at-least-once', 'exactly-once'] as const;
type Delivery = (typeof MODES)[number];

export interface ExactlyOnceOptions {
  rounds?: number;
  relayEvents?: number;
  workerEvents?: number;
  log?: Log;
}

/** Relay rounds on one ground: each round measures both modes, in alternating order. */
async function relayRounds(rounds: number, events: number, log: Log): Promise<Record<Delivery, Figure[]>> {
  Logger.overrideLogger(['error']);
  const mongoProcess = process.env.MONGO_URL ? undefined : await startMongoProcess();
  const ground = await startGround({ mongo: !mongoProcess });
  if (mongoProcess) ground.mongoUrl = mongoProcess.url;
  const mongo = await new MongoClient(ground.mongoUrl).connect();
  const figures: Record<Delivery, Figure[]> = { 'at-least-once': [], 'exactly-once': [] };
  try {
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? MODES : [...MODES].reverse();
      for (const delivery of order) {
        const db = uniqueName('bench_eos');
        const from = await backlog(mongo, db, events);
        figures[delivery].push(await relay(log, ground, db, from, events, delivery));
      }
    }
    return figures;
  } finally {
    await mongo.close();
    await ground.stop();
    await mongoProcess?.stop();
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const spread = (values: number[], digits = 0) =>
  `${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)}`;

export async function measureExactlyOnce(options: ExactlyOnceOptions = {}): Promise<PartResult> {
  const rounds = options.rounds ?? numberFlag('rounds', 3);
  const relayEvents = options.relayEvents ?? numberFlag('relay-events', 30_000);
  const workerEvents = options.workerEvents ?? numberFlag('events', 4_000);
  const log = options.log ?? say;
  const started = performance.now();

  log(`exactly-once: relay, ${rounds} rounds of ${relayEvents} events in each mode`);
  const relayFigures = await relayRounds(rounds, relayEvents, log);
  const rates = (mode: Delivery) => relayFigures[mode].map(rate);
  const cpu = (mode: Delivery) => relayFigures[mode].map(cpuPerEvent);
  const ratios = relayFigures['exactly-once'].map((f, i) => rate(f) / rate(relayFigures['at-least-once'][i]));
  const ratio = median(ratios);

  log(`exactly-once: worker, ${workerEvents} events with markers, then with offsets`);
  const markers = await measureWorker({ events: workerEvents, dedupe: 'markers', log });
  const offsets = await measureWorker({ events: workerEvents, dedupe: 'offsets', log });
  const workerRatio = offsets.rate / markers.rate;

  const describeRelay = (mode: Delivery) =>
    `${median(rates(mode)).toLocaleString('en-US')} events/s (median of ${rounds}; ${spread(rates(mode))}), ` +
    `${median(cpu(mode)).toFixed(1)} µs CPU per event (${spread(cpu(mode), 1)})`;
  return {
    title: 'Cost of exactly-once (transactional relay; offsets dedupe)',
    checks: [
      {
        name: 'relay exactly-once / at-least-once (throughput)',
        value: `${(ratio * 100).toFixed(0)}% (median of ${rounds} paired rounds; ${spread(ratios.map((r) => r * 100))}%)`,
        target: `>= ${EXACTLY_ONCE_THROUGHPUT_TARGET * 100}%`,
        pass: ratio >= EXACTLY_ONCE_THROUGHPUT_TARGET,
      },
      {
        name: 'worker offsets / markers (events applied per second)',
        value: `${workerRatio.toFixed(2)}x (1 run each)`,
        target: '>= 1.00x',
        pass: workerRatio >= 1,
      },
    ],
    figures: [
      ['relay at-least-once', describeRelay('at-least-once')],
      ['relay exactly-once', describeRelay('exactly-once')],
      ['worker, markers', `${markers.rate.toFixed(0)} events/s`],
      ['worker, offsets', `${offsets.rate.toFixed(0)} events/s`],
      ...offsets.figures
        .filter(([name]) => name.startsWith('CPU per event'))
        .map(([name, value]): [string, string] => [`offsets: ${name}`, value]),
      ...markers.figures
        .filter(([name]) => name.startsWith('CPU per event'))
        .map(([name, value]): [string, string] => [`markers: ${name}`, value]),
    ],
    conditions: [
      `relay: ${relayEvents} backlog inserts of 300-byte documents per measurement, one ground (MongoDB stand-in in its own process, one Kafka broker), modes alternating in each round; CPU per event = this process (main thread + producer thread), as in the relay part`,
      `worker: ${workerEvents} order inserts pre-filled on 4 partitions, one worker process, fresh servers per mode, window 10%-90% of the events applied`,
    ],
    notes: [],
    seconds: since(started),
  };
}

if (require.main === module) runAlone(() => measureExactlyOnce());
