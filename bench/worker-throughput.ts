/**
 * Worker throughput with the transactional dedupe (exactly-once effect: marker and read-model
 * write in one MongoDB transaction) and without it (`transaction: false`: marker checked before and
 * written after the effect). One worker process, 4 partitions.
 *
 * Here the MongoDB stand-in (single-threaded, in its own process) is the ceiling; set MONGO_URL (and
 * KAFKA_BROKERS for a cluster other than the broker started here) to measure against real servers.
 *
 *   node -r @swc-node/register bench/worker-throughput.ts [--events=2000] [--runs=1]
 *
 * `measureWorkerThroughput()` is the measurement (bench/report.ts can run it with the other parts).
 */
import { runAlone, say, since, type Log, type PartResult } from './support/report';
import {
  describeScenario,
  numberFlag,
  printResult,
  runScenario,
  type Result,
  type Scenario,
} from './support/worker-scenarios';

export interface ThroughputOptions {
  events?: number;
  runs?: number;
  log?: Log;
}

export async function measureWorkerThroughput(options: ThroughputOptions = {}): Promise<PartResult> {
  const events = options.events ?? numberFlag('events', 2000);
  const runs = options.runs ?? numberFlag('runs', 1);
  const log = options.log ?? say;
  const started = performance.now();
  const base = {
    workers: 1,
    partitions: 4,
    events,
    documents: 64,
    partitionConcurrency: 4,
    workMs: 0,
  } as const;
  const scenarios: Scenario[] = [
    { ...base, name: 'transactional dedupe (default)', handlerSet: 'bench-transactional' },
    { ...base, name: 'without transaction', handlerSet: 'bench-plain' },
  ];
  log(`worker throughput (best of ${runs} runs each)`);
  const best: Result[] = [];
  for (const scenario of scenarios) {
    const results: Result[] = [];
    for (let run = 0; run < runs; run++) results.push(await runScenario(scenario));
    best.push(results.reduce((a, b) => (b.eventsPerSecond > a.eventsPerSecond ? b : a)));
    printResult(best[best.length - 1], log);
  }
  const ratio = best[0].eventsPerSecond / best[1].eventsPerSecond;
  return {
    title: 'Worker throughput (transactional dedupe vs none)',
    checks: [],
    figures: [
      ...best.map((r): [string, string] => [r.scenario.name, `${r.eventsPerSecond.toFixed(0)} events/s`]),
      ['transactional / non-transactional', `${ratio.toFixed(2)}x`],
    ],
    conditions: [
      describeScenario(scenarios[0]),
      'MongoDB stand-in in its own process (single-threaded: the ceiling here)',
    ],
    notes: [],
    seconds: since(started),
  };
}

if (require.main === module) runAlone(() => measureWorkerThroughput());
