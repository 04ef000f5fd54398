import { Logger } from '@nestjs/common';
import { redactText } from 'nest-change-stream';

/**
 * The service's environment contract (README: "Environment"). Parsed once at start-up; a bad value
 * stops start-up with an error naming the variable and what it accepts.
 */
export const APP_ROLES = ['relay', 'worker', 'all'] as const;
export type AppRole = (typeof APP_ROLES)[number];
export const HISTORY_LOST_POLICIES = ['fail', 'resnapshot'] as const;
export type HistoryLostPolicy = (typeof HISTORY_LOST_POLICIES)[number];
export const DELIVERY_MODES = ['exactly-once', 'at-least-once'] as const;
export type DeliveryMode = (typeof DELIVERY_MODES)[number];
export const DEDUPE_MODES = ['markers', 'offsets'] as const;
export type DedupeMode = (typeof DEDUPE_MODES)[number];

export interface ServiceEnvironment {
  /** MongoDB URI; undefined means the embedded stand-in. */
  mongoUrl?: string;
  /** Kafka bootstrap brokers; empty means the embedded stand-in. */
  kafkaBrokers: string[];
  /** Redis URLs (one, or several for a Redlock quorum); empty means an embedded redis-server. */
  redisUrls: string[];
  role: AppRole;
  port: number;
  /** Leader lease time-to-live (LEASE_TTL_MS); undefined means the library default (10 s). */
  leaseTtlMs?: number;
  /** Kafka consumer group session timeout of the workers (KAFKA_SESSION_TIMEOUT_MS); undefined: kafkajs' 30 s. */
  kafkaSessionTimeoutMs?: number;
  /** Messages per shared worker transaction (WORKER_BATCH_SIZE); undefined means the library default (100). */
  workerBatchSize?: number;
  /** The relay's `onHistoryLost` (ON_HISTORY_LOST); undefined means the library default (`fail`). */
  onHistoryLost?: HistoryLostPolicy;
  /** The relay's `relay.maxPublishStallMs` (RELAY_MAX_PUBLISH_STALL_MS); undefined means the library default (15 s). */
  maxPublishStallMs?: number;
  /** The relay's `relay.delivery` (RELAY_DELIVERY); undefined means the library default (`at-least-once`). */
  delivery?: DeliveryMode;
  /** The workers' `worker.dedupe` (WORKER_DEDUPE); undefined means the library default (`markers`). */
  dedupe?: DedupeMode;
}

export class EnvironmentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvironmentError';
  }
}

/**
 * A comma list from variable `name`: empty when unset or blank. A set list with an empty entry ("," or
 * "a,,b") is refused: it would otherwise mean "none", and quietly start an embedded server instead.
 */
function list(name: string, value: string | undefined): string[] {
  if (!value?.trim()) return [];
  const parts = value.split(',').map((part) => part.trim());
  if (parts.some((part) => !part))
    throw new EnvironmentError(`${name} has an empty entry: got "${redactText(value)}"`);
  return parts;
}

/**
 * Reads the environment; `warn` hears of deprecated values (by default the Nest logger, which
 * main.ts has not yet redirected: the warnings quote no configuration value).
 */
export function parseEnvironment(
  env: NodeJS.ProcessEnv = process.env,
  warn: (message: string) => void = (message) => new Logger('Environment').warn(message),
): ServiceEnvironment {
  const role = appRole(env.APP_ROLE, warn);
  const portText = env.PORT?.trim() || '3000';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    throw new EnvironmentError(`PORT must be a TCP port number (0-65535); got "${env.PORT}"`);
  }
  const mongoUrl = env.MONGO_URL?.trim() || undefined;
  if (mongoUrl && !/^mongodb(\+srv)?:\/\//.test(mongoUrl)) {
    throw new EnvironmentError(
      `MONGO_URL must be a mongodb:// or mongodb+srv:// URI; got "${redactText(mongoUrl)}"`,
    );
  }
  const kafkaBrokers = list('KAFKA_BROKERS', env.KAFKA_BROKERS);
  const badBroker = kafkaBrokers.find((broker) => !/^[^\s:/]+:\d+$/.test(broker));
  if (badBroker) {
    throw new EnvironmentError(
      `KAFKA_BROKERS must be a comma list of host:port; got "${redactText(badBroker)}"`,
    );
  }
  const redisUrls = env.REDIS_URLS?.trim()
    ? list('REDIS_URLS', env.REDIS_URLS)
    : list('REDIS_URL', env.REDIS_URL);
  const badRedis = redisUrls.find((url) => !/^rediss?:\/\//.test(url));
  if (badRedis) {
    throw new EnvironmentError(
      `REDIS_URL(S) must be redis:// or rediss:// URLs; got "${redactText(badRedis)}"`,
    );
  }
  const ttlText = env.LEASE_TTL_MS?.trim();
  const leaseTtlMs = ttlText ? Number(ttlText) : undefined;
  if (ttlText && (!/^\d+$/.test(ttlText) || leaseTtlMs! < 1000 || leaseTtlMs! > 60000)) {
    throw new EnvironmentError(
      `LEASE_TTL_MS must be an integer from 1000 to 60000 (ms); got "${env.LEASE_TTL_MS}"`,
    );
  }
  const sessionText = env.KAFKA_SESSION_TIMEOUT_MS?.trim();
  const kafkaSessionTimeoutMs = sessionText ? Number(sessionText) : undefined;
  if (
    sessionText &&
    (!/^\d+$/.test(sessionText) || kafkaSessionTimeoutMs! < 6000 || kafkaSessionTimeoutMs! > 300000)
  ) {
    throw new EnvironmentError(
      `KAFKA_SESSION_TIMEOUT_MS must be an integer from 6000 to 300000 (ms); got "${env.KAFKA_SESSION_TIMEOUT_MS}"`,
    );
  }
  const batchText = env.WORKER_BATCH_SIZE?.trim();
  const workerBatchSize = batchText ? Number(batchText) : undefined;
  if (batchText && (!/^\d+$/.test(batchText) || workerBatchSize! < 1 || workerBatchSize! > 10000)) {
    throw new EnvironmentError(
      `WORKER_BATCH_SIZE must be an integer from 1 to 10000; got "${env.WORKER_BATCH_SIZE}"`,
    );
  }
  const onHistoryLost = oneOf('ON_HISTORY_LOST', HISTORY_LOST_POLICIES, env.ON_HISTORY_LOST);
  const delivery = oneOf('RELAY_DELIVERY', DELIVERY_MODES, env.RELAY_DELIVERY);
  const dedupe = oneOf('WORKER_DEDUPE', DEDUPE_MODES, env.WORKER_DEDUPE);
  const stallText = env.RELAY_MAX_PUBLISH_STALL_MS?.trim();
  const maxPublishStallMs = stallText ? Number(stallText) : undefined;
  if (stallText && (!/^\d+$/.test(stallText) || maxPublishStallMs! < 100 || maxPublishStallMs! > 3_600_000)) {
    throw new EnvironmentError(
      `RELAY_MAX_PUBLISH_STALL_MS must be an integer from 100 to 3600000 (ms); got "${env.RELAY_MAX_PUBLISH_STALL_MS}"`,
    );
  }
  return {
    mongoUrl,
    kafkaBrokers,
    redisUrls,
    role,
    port,
    leaseTtlMs,
    kafkaSessionTimeoutMs,
    workerBatchSize,
    ...(onHistoryLost ? { onHistoryLost } : {}),
    ...(maxPublishStallMs ? { maxPublishStallMs } : {}),
    ...(delivery ? { delivery } : {}),
    ...(dedupe ? { dedupe } : {}),
  };
}

/** Variable `name`: one of `values`; undefined when unset or blank. */
function oneOf<T extends string>(
  name: string,
  values: readonly T[],
  value: string | undefined,
): T | undefined {
  const chosen = value?.trim();
  if (!chosen) return undefined;
  if (!(values as readonly string[]).includes(chosen)) {
    throw new EnvironmentError(`${name} must be one of ${values.join(' | ')}; got "${value}"`);
  }
  return chosen as T;
}

/** APP_ROLE; its old spelling `listener` (now `relay`) is still accepted, with a warning, for one minor version. */
function appRole(value: string | undefined, warn: (message: string) => void): AppRole {
  const given = value?.trim() || 'all';
  if (given === 'listener') {
    warn('APP_ROLE=listener is deprecated and will be removed in the next minor version: use APP_ROLE=relay');
    return 'relay';
  }
  if (!APP_ROLES.includes(given as AppRole))
    throw new EnvironmentError(`APP_ROLE must be one of ${APP_ROLES.join(' | ')}; got "${value}"`);
  return given as AppRole;
}
