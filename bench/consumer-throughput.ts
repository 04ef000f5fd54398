/**
 * Consumer throughput with the transactional dedupe (exactly-once effect: marker and read-model
 * write in one MongoDB transaction) and without it (`transaction: false`: marker checked before and
 * written after the effect). One worker process, 4 partitions.
 *
 * Against the stand-ins the MongoDB stand-in (single-threaded, in this process) is the ceiling;
 * set MONGO_URL and KAFKA_BROKERS to measure against real servers.
 *
 *   node -r @swc-node/register bench/consumer-throughput.ts [--events=2000] [--runs=1]
 */
import { numberFlag, printResult, runScenario, type Result, type Scenario } from './consumer-bench.support';

async function main(): Promise<void> {
  const events = numberFlag('events', 2000);
  const runs = numberFlag('runs', 1);
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
  console.log(`consumer throughput (best of ${runs} runs each)`);
  const best: Result[] = [];
  for (const scenario of scenarios) {
    const results: Result[] = [];
    for (let run = 0; run < runs; run++) results.push(await runScenario(scenario));
    best.push(results.reduce((a, b) => (b.eventsPerSecond > a.eventsPerSecond ? b : a)));
    printResult(best[best.length - 1]);
  }
  const ratio = best[0].eventsPerSecond / best[1].eventsPerSecond;
  console.log(`  transactional / non-transactional throughput: ${ratio.toFixed(2)}x`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
