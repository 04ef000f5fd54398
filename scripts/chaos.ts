/**
 * `npm run chaos`: the chaos run (test/chaos/chaos-run.ts). Starts the servers (or uses MONGO_URL /
 * KAFKA_BROKERS / REDIS_URL(S), skipping the faults that need a server started here), replicas of the orders
 * service as real processes, writes order changes while injecting faults at seeded points, waits
 * until everything is quiet and checks the read models. Prints the figures and the seed; exits 1 on
 * any lost event or duplicate effect, or when the run could not finish.
 *
 * Env: CHAOS_SEED (default: random), CHAOS_CHANGES (10000), CHAOS_REPLICAS (4), LEASE_TTL_MS (3000),
 * CHAOS_ROUNDS (faults of each kind, 1), CHAOS_FAULTS (comma list of kinds, default all),
 * RELAY_DELIVERY and WORKER_DEDUPE (passed to the replicas; default: the library's).
 */
import 'reflect-metadata';
import { DEDUPE_MODES, DELIVERY_MODES, type DedupeMode, type DeliveryMode } from '../src/config/environment';
import { FAULT_KINDS, runChaos, type FaultKind } from '../test/chaos/chaos-run';
import { passed, summary } from '../test/chaos/summary';

const say = (line: string) => process.stdout.write(`${line}\n`);

function numberFrom(name: string, fallback: number, min: number): number {
  const text = process.env[name]?.trim();
  if (!text) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min)
    throw new Error(`${name} must be an integer >= ${min}; got "${text}"`);
  return value;
}

function faultsFrom(text: string | undefined): FaultKind[] | undefined {
  if (!text?.trim()) return undefined;
  const kinds = text.split(',').map((k) => k.trim()) as FaultKind[];
  const bad = kinds.find((k) => !FAULT_KINDS.includes(k));
  if (bad) throw new Error(`CHAOS_FAULTS: unknown kind "${bad}" (kinds: ${FAULT_KINDS.join(', ')})`);
  return kinds;
}

function modeFrom<T extends string>(name: string, modes: readonly T[]): T | undefined {
  const text = process.env[name]?.trim();
  if (!text) return undefined;
  if (!(modes as readonly string[]).includes(text))
    throw new Error(`${name} must be one of ${modes.join(' | ')}; got "${text}"`);
  return text as T;
}

async function main(): Promise<number> {
  // NOTE: exit (not die) on a signal, so the exit hooks stop the replicas and redis-servers started here.
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      process.stderr.write(`chaos: ${signal}, stopping\n`);
      process.exit(1);
    });
  const seed = numberFrom('CHAOS_SEED', Math.floor(Math.random() * 2 ** 31), 0);
  const result = await runChaos({
    seed,
    changes: numberFrom('CHAOS_CHANGES', 10_000, 1),
    replicas: numberFrom('CHAOS_REPLICAS', 4, 2),
    leaseTtlMs: numberFrom('LEASE_TTL_MS', 3_000, 1_000),
    rounds: numberFrom('CHAOS_ROUNDS', 1, 1),
    faults: faultsFrom(process.env.CHAOS_FAULTS),
    delivery: modeFrom<DeliveryMode>('RELAY_DELIVERY', DELIVERY_MODES),
    dedupe: modeFrom<DedupeMode>('WORKER_DEDUPE', DEDUPE_MODES),
    log: say,
  });
  for (const line of summary(result)) say(line);
  const ok = passed(result);
  say(ok ? 'CHAOS PASSED' : 'CHAOS FAILED');
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`chaos failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
