/**
 * Relay benchmark: events per second from MongoDB to Kafka acknowledgement, and CPU per event, for the
 * library's relay in both delivery modes, against a naive relay (one awaited send and one awaited
 * checkpoint write per event) and the raw change-stream read and raw produce rates as ceilings, on
 * the same ground.
 *
 *   node -r @swc-node/register bench/relay.ts [--rounds=3] [--profile=<dir>]
 *
 * Each round measures the raw read, the raw produce and the relay in each mode (alternating which
 * mode goes first), so every ratio is taken within one round and drift on a noisy machine hits both
 * sides; figures are medians over the rounds, with their spread. The naive relay runs once.
 * `--profile=<dir>`: run under `node --cpu-prof --cpu-prof-dir=<dir>` instead (one profile per
 * thread: the main thread and each producer thread).
 *
 * Env: BENCH_EVENTS (default 60000: long enough for the steady state; at 20000 the relay ran 2.5 s,
 * much of it JIT warm-up), BENCH_NAIVE_EVENTS (default 2000), BENCH_DOC_BYTES (default 300);
 * MONGO_URL / KAFKA_BROKERS to run against other servers than the MongoDB stand-in and the Apache
 * Kafka broker started here. Every run measures a backlog: documents are inserted first, then the
 * reader starts from the operation time recorded before the inserts.
 */
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { Kafka } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { startGround, uniqueName, type Ground } from '../test/support/ground';
import { startMongoProcess } from './support/servers';
import { runAlone, say, since, type Log, type PartResult } from './support/report';
import {
  DELIVERIES,
  KAFKA,
  backlog,
  cpuPerEvent,
  naive,
  rate,
  rawProduce,
  rawRead,
  relay,
  threadsPerEvent,
  timed,
  type Delivery,
  type Figure,
} from './support/relay-runs';
import { profileFlag, profileRelay, saveWindows } from './support/relay-profile';
import { median, spread } from './support/stats';
import { numberFlag } from './support/worker-scenarios';

export interface RelayOptions {
  rounds?: number;
  events?: number;
  naiveEvents?: number;
  docBytes?: number;
  log?: Log;
}

export const RELAY_VS_NAIVE_TARGET = 20;
export const RELAY_VS_CEILING_TARGET = 0.7;
/** Main thread plus producer thread, per event. */
export const RELAY_CPU_TARGET_MICROS = 30;
/** Published CPU per message of other relays, for comparison (not a target). */
const PUBLISHED_CPU =
  'reference: MongoDB Kafka connector ~67 µs/message, Debezium ~46 µs/message (ConduitIO streaming benchmarks 2025)';

/** The figures of one round. */
export interface RelayRound {
  read?: Figure;
  produce?: Figure;
  relay: Record<Delivery, Figure>;
}

/**
 * `rounds` rounds on one ground (the MongoDB stand-in in its own process, as a real server would be,
 * so its work does not share this process's event loop): the relay in each mode, alternating which
 * goes first, with the raw read and produce first when `raw`. Calls `extra` once, on the same ground.
 */
export async function relayRounds(
  options: { rounds: number; events: number; docBytes: number; raw: boolean; log: Log },
  extra?: (ground: Ground, mongo: MongoClient, kafka: Kafka) => Promise<void>,
): Promise<{ rounds: RelayRound[]; kafkaKind: string; mongoKind: string }> {
  const { rounds, events, docBytes, raw, log } = options;
  Logger.overrideLogger(['error']);
  const mongoProcess = process.env.MONGO_URL ? undefined : await startMongoProcess();
  const ground = await startGround({ mongo: !mongoProcess });
  if (mongoProcess) ground.mongoUrl = mongoProcess.url;
  const mongo = await new MongoClient(ground.mongoUrl).connect();
  const kafka = new Kafka({ ...KAFKA, clientId: 'bench', brokers: ground.kafkaBrokers });
  const kafkaKind = ground.kafka
    ? `Apache Kafka ${ground.kafka.version} (1 broker, a JVM started here)`
    : `cluster at ${ground.kafkaBrokers.join(',')}`;
  const mongoKind = mongoProcess ? 'stand-in in its own process' : 'server (MONGO_URL)';
  log(`relay: MongoDB ${mongoKind}, Kafka: ${kafkaKind}; ${docBytes}-byte documents; ${rounds} rounds`);
  try {
    const results: RelayRound[] = [];
    for (let round = 0; round < rounds; round++) {
      const result: Partial<RelayRound> = { relay: {} as Record<Delivery, Figure> };
      if (raw) {
        const readDb = uniqueName('bench_read');
        const readFrom = await backlog(mongo, readDb, events, docBytes);
        result.read = await timed(log, 'raw change-stream read', events, (markFirst) =>
          rawRead(mongo, readDb, readFrom, events, markFirst),
        );
        result.produce = await timed(log, 'raw produce (sendBatch 500, acks all)', events, (markFirst) =>
          rawProduce(kafka, uniqueName('bench_raw'), events, docBytes, markFirst),
        );
      }
      for (const delivery of round % 2 === 0 ? DELIVERIES : [...DELIVERIES].reverse()) {
        const db = uniqueName('bench_relay');
        const from = await backlog(mongo, db, events, docBytes);
        result.relay![delivery] = await relay(log, ground, db, from, events, delivery);
      }
      results.push(result as RelayRound);
    }
    await extra?.(ground, mongo, kafka);
    return { rounds: results, kafkaKind, mongoKind };
  } finally {
    await mongo.close();
    await ground.stop();
    await mongoProcess?.stop();
  }
}

/** Median and spread of a figure over the rounds, as printed. */
export function overRounds(values: number[], digits: number, unit = ''): string {
  return `${median(values).toFixed(digits)}${unit} (median of ${values.length}; ${spread(values, digits)})`;
}

/** The relay part: rounds, the naive relay once, checks and figures. */
export async function measureRelay(options: RelayOptions = {}): Promise<PartResult> {
  const rounds = options.rounds ?? numberFlag('rounds', 3);
  const events = options.events ?? Number(process.env.BENCH_EVENTS ?? 60_000);
  const naiveEvents = options.naiveEvents ?? Number(process.env.BENCH_NAIVE_EVENTS ?? 2_000);
  const docBytes = options.docBytes ?? Number(process.env.BENCH_DOC_BYTES ?? 300);
  const log = options.log ?? say;
  const started = performance.now();
  let naiveFigure: Figure | undefined;
  const measured = await relayRounds(
    { rounds, events, docBytes, raw: true, log },
    async (_ground, mongo, kafka) => {
      const db = uniqueName('bench_naive');
      const from = await backlog(mongo, db, naiveEvents, docBytes);
      naiveFigure = await timed(log, 'naive relay (send + write each)', naiveEvents, (markFirst) =>
        naive(mongo, kafka, db, from, naiveEvents, markFirst),
      );
    },
  );
  return relayResult(measured, naiveFigure!, { events, naiveEvents, docBytes, started });
}

function relayResult(
  measured: Awaited<ReturnType<typeof relayRounds>>,
  naiveFigure: Figure,
  run: { events: number; naiveEvents: number; docBytes: number; started: number },
): PartResult {
  const all = measured.rounds;
  const ceiling = (r: RelayRound) => Math.min(rate(r.read!), rate(r.produce!));
  const ofMode = (mode: Delivery) => ({
    rates: all.map((r) => rate(r.relay[mode])),
    versusCeiling: all.map((r) => (rate(r.relay[mode]) / ceiling(r)) * 100),
    threads: all.map((r) => threadsPerEvent(r.relay[mode]) ?? Number.NaN),
    process: all.map((r) => cpuPerEvent(r.relay[mode])),
    main: all.map((r) => r.relay[mode].mainMicros! / r.relay[mode].events),
    producer: all.map((r) => r.relay[mode].producerMicros! / r.relay[mode].events),
  });
  const modes = { 'at-least-once': ofMode('at-least-once'), 'exactly-once': ofMode('exactly-once') };
  const versusNaive = median(modes['at-least-once'].rates) / rate(naiveFigure);
  const checks = [
    {
      name: 'relay (at-least-once) / naive relay',
      value: `${versusNaive.toFixed(2)}x (median relay rate of ${all.length}; naive: 1 run)`,
      target: `>= ${RELAY_VS_NAIVE_TARGET}x`,
      pass: versusNaive >= RELAY_VS_NAIVE_TARGET,
    },
    ...DELIVERIES.flatMap((mode) => [
      {
        name: `relay (${mode}) / min(raw read, raw produce)`,
        value: overRounds(modes[mode].versusCeiling, 0, '%'),
        target: `>= ${RELAY_VS_CEILING_TARGET * 100}%`,
        pass: median(modes[mode].versusCeiling) >= RELAY_VS_CEILING_TARGET * 100,
      },
      {
        name: `relay (${mode}) CPU per event, main + producer thread`,
        value: overRounds(modes[mode].threads, 1, ' µs'),
        target: `<= ${RELAY_CPU_TARGET_MICROS} µs`,
        pass: median(modes[mode].threads) <= RELAY_CPU_TARGET_MICROS,
      },
      {
        name: `relay (${mode}) CPU per event, whole process`,
        value: overRounds(modes[mode].process, 1, ' µs'),
        target: PUBLISHED_CPU,
      },
    ]),
  ];
  const perSecond = (values: number[]) => overRounds(values, 0, ' events/s');
  return {
    title: 'Relay throughput and CPU (MongoDB commit -> Kafka acknowledgement)',
    checks,
    figures: [
      ...DELIVERIES.flatMap((mode): Array<[string, string]> => [
        [`relay (${mode})`, perSecond(modes[mode].rates)],
        [
          `relay (${mode}) CPU per event: main thread / producer thread`,
          `${overRounds(modes[mode].main, 1, ' µs')} / ${overRounds(modes[mode].producer, 1, ' µs')}`,
        ],
      ]),
      ['raw change-stream read', perSecond(all.map((r) => rate(r.read!)))],
      [
        'raw change-stream read, CPU per event (main thread)',
        overRounds(
          all.map((r) => r.read!.mainMicros! / r.read!.events),
          1,
          ' µs',
        ),
      ],
      [
        'raw produce (kafkajs sendBatch of 500 encoded messages, acks all, idempotent)',
        perSecond(all.map((r) => rate(r.produce!))),
      ],
      [
        'raw produce, CPU per event (main thread: kafkajs alone, messages encoded beforehand)',
        overRounds(
          all.map((r) => r.produce!.mainMicros! / r.produce!.events),
          1,
          ' µs',
        ),
      ],
      [
        'naive relay (one awaited send and one checkpoint write per event)',
        `${rate(naiveFigure)} events/s (1 run of ${run.naiveEvents} events)`,
      ],
    ],
    conditions: [
      `MongoDB ${measured.mongoKind}; Kafka: ${measured.kafkaKind}; every rate of a round is measured against the same broker`,
      `${run.docBytes}-byte payloads, a backlog of ${run.events} inserts per measurement, read from a recorded operation time; ${all.length} rounds, the two delivery modes alternating which goes first`,
      'the relay runs in the benchmark process with the library defaults (batchSize 500, maxInFlightEvents 5 000, its producer in a worker thread)',
      "CPU per event over the rate window: main + producer thread = the two threads' user + system time (Linux /proc/self/task), which excludes V8's GC helper threads and libuv's pool; whole process = process.cpuUsage() (all threads, and the benchmark's poll of the relay's status every 2 ms); neither holds the MongoDB stand-in or the Kafka broker (other processes)",
      "each rate counts from its first acknowledged event or batch, so a new leader's start-up (the failover part's concern) is not in it",
    ],
    notes: [],
    seconds: since(run.started),
  };
}

/** The child of `--profile`: one round of the relay in each mode, its windows saved for the parent. */
async function profiledRound(dir: string): Promise<PartResult> {
  const started = performance.now();
  const events = Number(process.env.BENCH_EVENTS ?? 60_000);
  const measured = await relayRounds({ rounds: 1, events, docBytes: 300, raw: false, log: say });
  saveWindows(dir, measured.rounds[0].relay);
  return {
    title: 'Relay (profiled)',
    checks: [],
    figures: [],
    conditions: [],
    notes: [],
    seconds: since(started),
  };
}

if (require.main === module) {
  const profileChild = process.argv.find((a) => a.startsWith('--profile-child='))?.split('=')[1];
  const profileDir = profileFlag(process.argv);
  if (profileChild) runAlone(() => profiledRound(profileChild));
  else if (profileDir) runAlone(() => profileRelay(__filename, profileDir, say));
  else runAlone(() => measureRelay());
}
