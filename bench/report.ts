/**
 * `npm run bench`: every benchmark part in one run, one report. Prints a markdown report (each
 * figure with its target and PASS/MISS, or with the published figures it compares with, and the
 * run's conditions, Apache Kafka's version among them) and writes it to
 * `bench/results/<YYYY-MM-DD>-<HHMM>.md` (UTC, the start of the run) and `bench/results/latest.md`.
 *
 * Parts (each also runs alone: `node -r @swc-node/register bench/<part>.ts`):
 *   relay        bench/relay.ts            relay vs naive relay vs raw read and produce rates
 *   scaling      bench/worker-scaling.ts   worker throughput, 1 -> 2 worker processes
 *   failover     bench/failover.ts         signal -> first event of the new leader, SIGKILL and SIGTERM
 *   latency      bench/latency.ts          MongoDB commit -> read-model write at a fixed rate
 *   kafka-outage bench/kafka-outage.ts     relay RSS while Kafka is down, catch-up time
 *   exactly-once bench/exactly-once.ts     transactional relay vs at-least-once; offsets vs markers dedupe
 *
 * Env: BENCH_PARTS (comma list, default all), plus each part's own (see its header). A part that
 * fails is reported as failed with its error; the others still run. Figures only: nothing here
 * asserts, and the exit code is 0 unless the report could not be written.
 */
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { serverKinds } from './support/servers';
import { LEASE_TTL_MS } from './support/replicas';
import { ORDER_BYTES } from './support/orders';
import { formatPart, say, verdict, type PartResult } from './support/report';
import { measureScaling } from './worker-scaling';
import { measureFailover } from './failover';
import { measureExactlyOnce } from './exactly-once';
import { measureKafkaOutage } from './kafka-outage';
import { measureLatency } from './latency';
import { measureRelay } from './relay';

const PARTS: Array<{ key: string; title: string; run: () => Promise<PartResult> }> = [
  { key: 'relay', title: 'Relay throughput', run: () => measureRelay() },
  { key: 'scaling', title: 'Worker scaling', run: () => measureScaling({ wide: false }) },
  { key: 'failover', title: 'Failover', run: () => measureFailover() },
  { key: 'latency', title: 'End-to-end latency', run: () => measureLatency() },
  { key: 'kafka-outage', title: 'Kafka outage', run: () => measureKafkaOutage() },
  { key: 'exactly-once', title: 'Cost of exactly-once', run: () => measureExactlyOnce() },
];

async function main(): Promise<void> {
  const started = new Date();
  const startedAt = performance.now();
  const load = loadavg();
  const wanted = (process.env.BENCH_PARTS ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const unknown = wanted.filter((w) => !PARTS.some((p) => p.key === w));
  if (unknown.length)
    throw new Error(
      `BENCH_PARTS: unknown part(s) ${unknown.join(', ')} (known: ${PARTS.map((p) => p.key).join(', ')})`,
    );
  const parts = wanted.length ? PARTS.filter((p) => wanted.includes(p.key)) : PARTS;

  const results: PartResult[] = [];
  for (const part of parts) {
    say(`\n=== ${part.title} ===`);
    const partStart = performance.now();
    try {
      results.push(await part.run());
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      say(`${part.title} failed: ${message}`);
      results.push({
        title: part.title,
        checks: [{ name: 'the part ran', value: 'failed', target: 'ran', pass: false }],
        figures: [],
        conditions: [],
        notes: [`The part failed: ${message}`],
        seconds: (performance.now() - partStart) / 1000,
      });
    }
  }
  const seconds = (performance.now() - startedAt) / 1000;
  const markdown = render(started, seconds, load, loadavg(), results, parts.length === PARTS.length);
  say(`\n${markdown}`);
  const dir = resolve(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = started.toISOString().slice(0, 16).replace('T', '-').replace(':', '');
  const file = join(dir, `${stamp}.md`);
  writeFileSync(file, markdown);
  writeFileSync(join(dir, 'latest.md'), markdown);
  say(`written to ${file} and ${join(dir, 'latest.md')}`);
}

function render(
  started: Date,
  seconds: number,
  loadBefore: number[],
  loadAfter: number[],
  results: PartResult[],
  complete: boolean,
): string {
  const kinds = serverKinds();
  const checks = results.flatMap((r) => r.checks.map((c) => ({ part: r.title, ...c })));
  // NOTE: reference rows (no pass) are figures beside published ones, not targets.
  const targets = checks.filter((c) => c.pass !== undefined);
  const passed = targets.filter((c) => c.pass).length;
  const lines = [
    `# Benchmark report, ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `\`npm run bench\`${complete ? '' : ` (parts: ${process.env.BENCH_PARTS})`}: ${passed} of ${targets.length} targets met; ${Math.round(seconds)} s in all.`,
    '',
    '| part | figure | value | target | |',
    '|---|---|---|---|---|',
    ...checks.map((c) => `| ${c.part} | ${c.name} | ${c.value} | ${c.target} | ${verdict(c)} |`),
    ...results.filter((r) => r.skipped).map((r) => `| ${r.title} | - | skipped | - | SKIPPED |`),
    '',
    '## Conditions',
    '',
    `- machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), ${(totalmem() / 1024 ** 3).toFixed(0)} GB; Node ${process.version}`,
    `- load average (1 min) at the start / end: ${loadBefore[0].toFixed(1)} / ${loadAfter[0].toFixed(1)} (other work on the machine shares its cores with the run)`,
    `- MongoDB: ${kinds.mongo}; Kafka: ${kinds.kafka}; Redis: ${kinds.redis}`,
    `- replicas of the example service run \`src/main.ts\` through @swc-node/register (TypeScript compiled in process), one process each, with LEASE_TTL_MS=${LEASE_TTL_MS}`,
    `- orders written through the MongoDB driver are ${ORDER_BYTES} bytes of BSON (2 items, Decimal128 prices)`,
    `- commit: ${git(['rev-parse', '--short', 'HEAD'])}${git(['status', '--porcelain', '--untracked-files=no']) ? ' plus uncommitted changes in the working tree' : ''}`,
    '',
  ];
  for (const result of results) lines.push(formatPart(result));
  return `${lines.join('\n').trimEnd()}\n`;
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: resolve(__dirname, '..'), encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
