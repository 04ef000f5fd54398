/**
 * Scaling from 1 to 2 worker processes on a 4-partition topic (goal: at least 1.7x). Each event
 * costs the handler simulated outside work (--work-ms, default 50 ms: a webhook or enrichment
 * call) on top of its exactly-once transaction, and each worker handles 2 partitions at a time, so
 * the workers, not the servers, are the bottleneck. A third run (--wide=1, on by default when run
 * alone) shows one worker given the same number of concurrent partitions as the two: for
 * latency-bound handlers, partitionConcurrency is the cheaper lever; replicas add CPU and connections.
 *
 *   node -r @swc-node/register bench/worker-scaling.ts [--events=1000] [--work-ms=50] [--runs=1] [--wide=1]
 *
 * `measureScaling()` is the measurement (bench/report.ts runs it with the other parts).
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

export interface ScalingOptions {
  events?: number;
  workMs?: number;
  runs?: number;
  /** Also run one worker with partitionConcurrency 4. */
  wide?: boolean;
  log?: Log;
}

export const SCALING_TARGET = 1.7;

export async function measureScaling(options: ScalingOptions = {}): Promise<PartResult> {
  const events = options.events ?? numberFlag('events', 1000);
  const workMs = options.workMs ?? numberFlag('work-ms', 50);
  const runs = options.runs ?? numberFlag('runs', 1);
  const wide = options.wide ?? numberFlag('wide', 1) === 1;
  const log = options.log ?? say;
  const started = performance.now();
  const base = {
    partitions: 4,
    events,
    documents: 64,
    partitionConcurrency: 2,
    workMs,
    handlerSet: 'bench-transactional',
  } as const;
  log(`worker scaling (best of ${runs} runs each)`);
  const best = async (scenario: Scenario): Promise<Result> => {
    const results: Result[] = [];
    for (let run = 0; run < runs; run++) results.push(await runScenario(scenario));
    const top = results.reduce((a, b) => (b.eventsPerSecond > a.eventsPerSecond ? b : a));
    printResult(top, log);
    return top;
  };
  const one = await best({ ...base, name: '1 worker', workers: 1 });
  const two = await best({ ...base, name: '2 workers', workers: 2 });
  const factor = two.eventsPerSecond / one.eventsPerSecond;
  const figures: Array<[string, string]> = [
    ['1 worker', `${one.eventsPerSecond.toFixed(0)} events/s (${one.seconds.toFixed(1)} s)`],
    ['2 workers', `${two.eventsPerSecond.toFixed(0)} events/s (${two.seconds.toFixed(1)} s)`],
  ];
  if (wide) {
    const w = await best({
      ...base,
      name: '1 worker, 4 partitions at a time',
      workers: 1,
      partitionConcurrency: 4,
    });
    figures.push([
      '1 worker with partitionConcurrency 4',
      `${w.eventsPerSecond.toFixed(0)} events/s (${(w.eventsPerSecond / one.eventsPerSecond).toFixed(2)}x of 1 worker with 2)`,
    ]);
  }
  return {
    title: 'Worker scaling (1 -> 2 worker processes)',
    checks: [
      {
        name: 'throughput of 2 workers / 1 worker',
        value: `${factor.toFixed(2)}x`,
        target: `>= ${SCALING_TARGET}x`,
        pass: factor >= SCALING_TARGET,
      },
    ],
    figures,
    conditions: [
      describeScenario({ ...base, name: '', workers: 1 }).replace(/^1 worker\(s\), /, ''),
      `each event: ${workMs} ms of simulated outside work plus its exactly-once transaction; worker processes of test/worker/fixtures`,
      'MongoDB stand-in in its own process; a fresh ground per run',
    ],
    notes: [],
    seconds: since(started),
  };
}

if (require.main === module) runAlone(() => measureScaling());
