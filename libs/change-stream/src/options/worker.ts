/** The `worker` section: the worker role's group, retries, dead letters, batching and dedupe. */
import { InvalidOptionsError } from '../errors/invalid-options.error';
import type { ResolvedChangeStreamOptions } from '../interfaces/change-stream-options.interface';
import type {
  DedupeMode,
  ResolvedWorkerOptions,
  WorkerOptions,
} from '../interfaces/worker-options.interface';
import {
  isObject,
  optionalBoolean,
  optionalInt,
  optionalOneOf,
  optionalString,
  section,
} from '../utils/option-validators';
import { resolveBackoff, resolveRetryPolicy, type DeprecationSink } from './backoff';
import { WORKER_DEFAULTS } from './defaults';

const DEDUPE_MODES: readonly DedupeMode[] = ['markers', 'offsets'];
const MIN_MARKER_RETENTION_MS = 60_000;

/** `worker.markerRetentionMs`: at least a minute, or Infinity (markers kept forever). */
function markerRetention(value: unknown, path: string): number {
  if (value === undefined) return WORKER_DEFAULTS.markerRetentionMs;
  if (value !== Infinity && !(Number.isInteger(value) && (value as number) >= MIN_MARKER_RETENTION_MS)) {
    const accepted = `an integer >= ${MIN_MARKER_RETENTION_MS} (one minute), or Infinity (kept forever)`;
    throw new InvalidOptionsError(path, accepted, value);
  }
  return value as number;
}

/** `<path>.kafka`, kafkajs consumer settings: anything but `groupId` (the worker's own option). */
function consumerSettings(value: unknown, path: string): ResolvedWorkerOptions['kafka'] {
  if (value === undefined) return {};
  if (!isObject(value)) throw new InvalidOptionsError(`${path}.kafka`, 'an object', value);
  if ('groupId' in value)
    throw new InvalidOptionsError(
      `${path}.kafka.groupId`,
      `nothing (set ${path}.groupId instead)`,
      value.groupId,
    );
  return { ...value };
}

/**
 * Merges the `worker` options with WORKER_DEFAULTS and validates them once, at start-up.
 * Throws InvalidOptionsError naming the bad option (`<path>.<field>`) and what it accepts.
 */
export function validateWorkerOptions(
  options: WorkerOptions | undefined,
  path = 'worker',
  deprecated: DeprecationSink = () => undefined,
): ResolvedWorkerOptions {
  const worker = section(options, path, false, Object.keys(WORKER_DEFAULTS));
  if (!worker) return { ...WORKER_DEFAULTS, kafka: {} };
  const d = WORKER_DEFAULTS;
  const kafka = consumerSettings(worker.kafka, path);
  const dedupe = optionalOneOf(worker.dedupe, `${path}.dedupe`, DEDUPE_MODES, d.dedupe);
  if (dedupe === 'offsets' && kafka.readUncommitted === true) {
    throw new InvalidOptionsError(
      `${path}.kafka.readUncommitted`,
      `false with ${path}.dedupe 'offsets' (an aborted transaction's messages would move the applied offset past events never committed)`,
      kafka.readUncommitted,
    );
  }
  return {
    groupId: optionalString(worker.groupId, `${path}.groupId`, d.groupId),
    database: optionalString(worker.database, `${path}.database`, d.database),
    retry: resolveRetryPolicy(worker.retry as WorkerOptions['retry'], d.retry, `${path}.retry`),
    deadLetterSuffix: optionalString(worker.deadLetterSuffix, `${path}.deadLetterSuffix`, d.deadLetterSuffix),
    markerRetentionMs: markerRetention(worker.markerRetentionMs, `${path}.markerRetentionMs`),
    partitionConcurrency: optionalInt(
      worker.partitionConcurrency,
      `${path}.partitionConcurrency`,
      1,
      Infinity,
      d.partitionConcurrency,
    ),
    commitIntervalMs: optionalInt(
      worker.commitIntervalMs,
      `${path}.commitIntervalMs`,
      0,
      Infinity,
      d.commitIntervalMs,
    ),
    transaction: optionalBoolean(worker.transaction, `${path}.transaction`, d.transaction),
    batchSize: optionalInt(worker.batchSize, `${path}.batchSize`, 1, 10_000, d.batchSize),
    fromBeginning: optionalBoolean(worker.fromBeginning, `${path}.fromBeginning`, d.fromBeginning),
    shutdownTimeoutMs: optionalInt(
      worker.shutdownTimeoutMs,
      `${path}.shutdownTimeoutMs`,
      0,
      Infinity,
      d.shutdownTimeoutMs,
    ),
    restartBackoff: resolveBackoff(
      worker.restartBackoff,
      `${path}.restartBackoff`,
      d.restartBackoff,
      deprecated,
    ),
    dedupe,
    kafka,
  };
}

/**
 * `worker.dedupe: 'offsets'` skips redeliveries of one offset only: a relay of this module that may
 * publish an event twice (at-least-once) would have both copies applied. Refused at start-up.
 */
export function checkDedupe(
  worker: ResolvedWorkerOptions,
  relayOn: boolean,
  relay: Pick<ResolvedChangeStreamOptions['relay'], 'delivery'>,
): ResolvedWorkerOptions {
  if (worker.dedupe === 'offsets' && relayOn && relay.delivery !== 'exactly-once') {
    throw new InvalidOptionsError(
      'worker.dedupe',
      `'markers' while relay.delivery is '${relay.delivery}' ('offsets' needs relay.delivery 'exactly-once': an at-least-once relay republishes events at new offsets after a failover, and offsets mode would apply both copies)`,
      worker.dedupe,
    );
  }
  return worker;
}
