/**
 * The chaos run, short (`npm run chaos` is the long one): replicas of the orders service as real
 * processes, 1 500 order changes, and every kind of fault once at seeded points. Nothing may be
 * lost or applied twice; with exactly-once delivery a read-committed consumer of the topic also
 * sees each event once. Run in the default modes (at-least-once relay, markers) and in the
 * exactly-once ones (transactional relay, offsets). The seed is random unless CHAOS_SEED is set; a
 * failure prints the whole run and how to replay it.
 */
import { FAULT_KINDS, runChaos } from './chaos-run';
import type { DedupeMode, DeliveryMode } from '../../src/config/environment';
import { passed, summary, topicProblems } from './summary';

const SEED = process.env.CHAOS_SEED ? Number(process.env.CHAOS_SEED) : Math.floor(Math.random() * 2 ** 31);
const CHANGES = 1_500;
const REPLICAS = 3;

const MODES: Array<[DeliveryMode, DedupeMode]> = [
  ['at-least-once', 'markers'],
  ['exactly-once', 'offsets'],
];

describe.each(MODES)('chaos run (short), relay %s, worker dedupe %s', (delivery, dedupe) => {
  it('loses no event and applies none twice while every kind of fault is injected', async () => {
    const lines: string[] = [];
    const result = await runChaos({
      seed: SEED,
      delivery,
      dedupe,
      changes: CHANGES,
      replicas: REPLICAS,
      leaseTtlMs: 3_000,
      log: (line) => lines.push(line),
      settleTimeoutMs: 45_000,
      // NOTE: beyond MongoDB's 60 s transaction lifetime: a worker killed mid-transaction holds its documents that long.
      quietTimeoutMs: 90_000,
    });
    const skipped = new Set(result.faultsSkipped.map((s) => s.kind));
    const missing = FAULT_KINDS.filter((kind) => !skipped.has(kind) && result.faultsInjected[kind] === 0);
    if (!passed(result) || missing.length) {
      process.stderr.write(
        `${[...lines, ...summary(result)].join('\n')}\n` +
          `replay: CHAOS_SEED=${SEED} npx jest test/chaos  (or CHAOS_SEED=${SEED} CHAOS_CHANGES=${CHANGES} CHAOS_REPLICAS=${REPLICAS} RELAY_DELIVERY=${delivery} WORKER_DEDUPE=${dedupe} npm run chaos)\n`,
      );
    }
    expect({ seed: SEED, completed: result.completed, error: result.error, missing }).toEqual({
      seed: SEED,
      completed: true,
      error: undefined,
      missing: [],
    });
    expect({ seed: SEED, lostEvents: result.lostEvents, duplicateEffects: result.duplicateEffects }).toEqual({
      seed: SEED,
      lostEvents: 0,
      duplicateEffects: 0,
    });
    expect({ seed: SEED, mismatches: result.mismatches }).toEqual({ seed: SEED, mismatches: [] });
    expect({ seed: SEED, topic: topicProblems(result) }).toEqual({ seed: SEED, topic: [] });
    expect(result.eventsWritten).toBe(CHANGES);
  }, 240_000);
});
