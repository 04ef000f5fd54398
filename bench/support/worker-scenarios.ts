/**
 * Shared harness of the worker benchmarks: starts the ground (the MongoDB stand-in in its own
 * process and an Apache Kafka broker; or real servers from MONGO_URL / KAFKA_BROKERS), worker processes
 * (test/worker/fixtures/worker.main.ts), produces change events and measures how fast the workers
 * apply them. Prints figures; asserts nothing.
 */
import { MongoClient } from 'mongodb';
import { DEFAULTS } from 'nest-change-stream';
import { changeEvents } from 'nest-change-stream/testing';
import { startGround, uniqueName, type Ground } from '../../test/support/ground';
import { waitFor } from '../../test/support/wait';
import { ITEMS_DB, type Item } from '../../test/worker/fixtures/items.handlers';
import { changeEventProducer, testKafka } from '../../test/worker/fixtures/kafka-tools';
import { killAll, spawnWorker, type WorkerProcess } from '../../test/worker/fixtures/worker-process';
import type { WorkerConfig } from '../../test/worker/fixtures/worker.module';
import { startMongoProcess } from './servers';

export interface Scenario {
  name: string;
  workers: number;
  partitions: number;
  events: number;
  documents: number;
  handlerSet: NonNullable<WorkerConfig['handlerSet']>;
  partitionConcurrency: number;
  /** Simulated outside work per event, ms. */
  workMs: number;
}

export interface Result {
  scenario: Scenario;
  seconds: number;
  eventsPerSecond: number;
}

const SEND_CHUNK = 500;

/** Runs one scenario on a fresh ground: workers join first, then every event is produced and timed until applied. */
export async function runScenario(scenario: Scenario): Promise<Result> {
  const prefix = uniqueName('bench');
  const topic = `${prefix}.${ITEMS_DB}.bench`;
  // NOTE: the MongoDB stand-in in its own process (as a real server would be): in this process it
  // would share an event loop with the producer and the polling.
  const mongo = process.env.MONGO_URL ? undefined : await startMongoProcess();
  const ground: Ground = await startGround({
    mongo: !mongo,
    kafka: { topics: [{ name: topic, partitions: scenario.partitions }] },
  });
  if (mongo) ground.mongoUrl = mongo.url;
  const workers: WorkerProcess[] = [];
  const client = await new MongoClient(ground.mongoUrl).connect();
  const producer = await changeEventProducer(testKafka(ground.kafkaBrokers, 'bench'));
  try {
    const config: WorkerConfig = {
      mongoUrl: ground.mongoUrl,
      kafkaBrokers: ground.kafkaBrokers,
      groupId: uniqueName('bench-group'),
      topicPrefix: prefix,
      handlerSet: scenario.handlerSet,
      worker: { partitionConcurrency: scenario.partitionConcurrency },
    };
    for (let i = 0; i < scenario.workers; i++) {
      workers.push(spawnWorker(`w${i + 1}`, config, { BENCH_WORK_MS: String(scenario.workMs) }));
    }
    await Promise.all(workers.map((w) => w.ready(60_000)));
    await waitFor(
      () => {
        const assigned = workers.map((w) => w.assignment()[topic] ?? []);
        return assigned.every((p) => p.length > 0) && assigned.flat().length === scenario.partitions;
      },
      { what: 'a stable assignment of every partition', timeoutMs: 60_000, intervalMs: 50 },
    ).catch((error: Error) => {
      const state = workers.map(
        (w) => `${w.name}: ${JSON.stringify(w.assignment())} ${w.stderr().slice(-500)}`,
      );
      throw new Error(`${error.message} (${state.join('; ')})`);
    });

    const events = buildEvents(scenario);
    const markers = client.db(DEFAULTS.storage.database).collection(DEFAULTS.storage.processed);
    const started = process.hrtime.bigint();
    for (let i = 0; i < events.length; i += SEND_CHUNK)
      await producer.send(topic, events.slice(i, i + SEND_CHUNK));
    // NOTE: a fresh ground per scenario and one handler: the marker count is the applied count, and the
    // metadata count costs the stand-in nothing, unlike a filtered count.
    await waitFor(async () => (await markers.estimatedDocumentCount()) >= events.length, {
      what: `${events.length} events applied`,
      timeoutMs: 600_000,
      // NOTE: polling the MongoDB stand-in often would slow the workers down.
      intervalMs: 250,
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { scenario, seconds, eventsPerSecond: events.length / seconds };
  } finally {
    await killAll(workers);
    await producer.disconnect();
    await client.close();
    await ground.stop();
    await mongo?.stop();
  }
}

function buildEvents({ events, documents }: Scenario) {
  const ids = Array.from({ length: documents }, (_, i) => `doc-${i}`);
  return Array.from({ length: events }, (_, n) => {
    const _id = ids[n % documents];
    const seq = Math.floor(n / documents) + 1;
    const item: Item = { _id, seq };
    return seq === 1
      ? changeEvents.insert<Item>('bench', item, { db: ITEMS_DB })
      : changeEvents.update<Item>(
          'bench',
          _id,
          { updatedFields: { seq } },
          { db: ITEMS_DB, fullDocument: item },
        );
  });
}

/** Reads `--name=value` flags with numeric defaults. */
export function numberFlag(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? Number(arg.split('=')[1]) : fallback;
}

export function describeScenario(s: Scenario): string {
  return `${s.workers} worker(s), ${s.partitions} partitions, concurrency ${s.partitionConcurrency}/worker, ${s.events} events on ${s.documents} docs, work ${s.workMs} ms, ${s.handlerSet}`;
}

export function printResult(result: Result, log: (line: string) => void = console.log): void {
  log(
    `  ${result.scenario.name.padEnd(34)} ${result.eventsPerSecond.toFixed(0).padStart(6)} events/s  (${result.seconds.toFixed(2)} s; ${describeScenario(result.scenario)})`,
  );
}
