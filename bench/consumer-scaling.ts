/**
 * Scaling from 1 to 2 worker processes on a 4-partition topic (goal: at least 1.7x). Each event
 * costs the handler simulated outside work (--work-ms, default 50 ms: a webhook or enrichment
 * call) on top of its exactly-once transaction, and each worker handles 2 partitions at a time, so
 * the workers, not the servers, are the bottleneck. A third run shows one worker given the same
 * number of concurrent partitions as the two: for latency-bound handlers, partitionConcurrency is
 * the cheaper lever; replicas add CPU and connections.
 *
 *   node -r @swc-node/register bench/consumer-scaling.ts [--events=1000] [--work-ms=50] [--runs=1]
 */
import { numberFlag, printResult, runScenario, type Result, type Scenario } from './consumer-bench.support';

async function main(): Promise<void> {
  const events = numberFlag('events', 1000);
  const workMs = numberFlag('work-ms', 50);
  const runs = numberFlag('runs', 1);
  const base = {
    partitions: 4,
    events,
    documents: 64,
    partitionConcurrency: 2,
    workMs,
    handlerSet: 'bench-transactional',
  } as const;
  console.log(`consumer scaling (best of ${runs} runs each)`);
  const best = async (scenario: Scenario): Promise<Result> => {
    const results: Result[] = [];
    for (let run = 0; run < runs; run++) results.push(await runScenario(scenario));
    const top = results.reduce((a, b) => (b.eventsPerSecond > a.eventsPerSecond ? b : a));
    printResult(top);
    return top;
  };
  const one = await best({ ...base, name: '1 worker', workers: 1 });
  const two = await best({ ...base, name: '2 workers', workers: 2 });
  const factor = two.eventsPerSecond / one.eventsPerSecond;
  console.log(
    `  scaling 1 -> 2 workers: ${factor.toFixed(2)}x (goal >= 1.7x: ${factor >= 1.7 ? 'met' : 'NOT met'})`,
  );
  const wide = await best({
    ...base,
    name: '1 worker, 4 partitions at a time',
    workers: 1,
    partitionConcurrency: 4,
  });
  console.log(
    `  1 worker with partitionConcurrency 4: ${(wide.eventsPerSecond / one.eventsPerSecond).toFixed(2)}x of 1 worker with 2`,
  );
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
