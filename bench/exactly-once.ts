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
import { runAlone, say, since, type Log, type PartResult } from './support/report';
import { cpuPerEvent, rate, type Delivery } from './support/relay-runs';
import { median, spread } from './support/stats';
import { numberFlag } from './support/worker-scenarios';
import { relayRounds } from './relay';
import { measureWorker } from './worker';

export const EXACTLY_ONCE_THROUGHPUT_TARGET = 0.8;

export interface ExactlyOnceOptions {
  rounds?: number;
  relayEvents?: number;
  workerEvents?: number;
  log?: Log;
}

export async function measureExactlyOnce(options: ExactlyOnceOptions = {}): Promise<PartResult> {
  const rounds = options.rounds ?? numberFlag('rounds', 3);
  const relayEvents = options.relayEvents ?? numberFlag('relay-events', 30_000);
  const workerEvents = options.workerEvents ?? numberFlag('events', 4_000);
  const log = options.log ?? say;
  const started = performance.now();

  log(`exactly-once: relay, ${rounds} rounds of ${relayEvents} events in each mode`);
  const measured = await relayRounds({ rounds, events: relayEvents, docBytes: 300, raw: false, log });
  const figuresOf = (mode: Delivery) => measured.rounds.map((round) => round.relay[mode]);
  const rates = (mode: Delivery) => figuresOf(mode).map(rate);
  const cpu = (mode: Delivery) => figuresOf(mode).map(cpuPerEvent);
  const ratios = figuresOf('exactly-once').map((f, i) => rate(f) / rate(figuresOf('at-least-once')[i]));
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
      `relay: ${relayEvents} backlog inserts of 300-byte documents per measurement, one ground (MongoDB stand-in in its own process, one Kafka broker), modes alternating in each round; CPU per event = the whole process (process.cpuUsage()), as in the relay part`,
      `worker: ${workerEvents} order inserts pre-filled on 4 partitions, one worker process, fresh servers per mode, window 10%-90% of the events applied`,
    ],
    notes: [],
    seconds: since(started),
  };
}

if (require.main === module) runAlone(() => measureExactlyOnce());
