/** The `redis` and `lease` sections: the leader lease's store and timings. */
import { InvalidOptionsError } from '../errors/invalid-options.error';
import type {
  LeaseOptions,
  RedisConnectionOptions,
  ResolvedChangeStreamOptions,
} from '../interfaces/change-stream-options.interface';
import {
  exactlyOne,
  hasMethods,
  optionalInt,
  optionalOneOf,
  optionalString,
  optionKeys,
  section,
  stringList,
} from '../utils/option-validators';
import { DEFAULTS } from './defaults';

const REDIS_KEYS = optionKeys<RedisConnectionOptions>({ urls: true, clients: true, options: true });
const LEASE_KEYS = optionKeys<LeaseOptions>({
  store: true,
  ttlMs: true,
  renewIntervalMs: true,
  safetyMarginMs: true,
  retryIntervalMs: true,
  retryJitterMs: true,
  keyPrefix: true,
});

/** The `redis` section, or null when there is none. */
export function resolveRedis(value: unknown): ResolvedChangeStreamOptions['redis'] {
  const redis = section(value, 'redis', false, REDIS_KEYS);
  if (!redis) return null;
  const source = exactlyOne(redis, 'redis', ['urls', 'clients']);
  if (source === 'urls')
    stringList(redis.urls, 'redis.urls', "'redis://' or 'rediss://' URLs", (u) => /^rediss?:\/\/./.test(u));
  if (source === 'clients') {
    if (!Array.isArray(redis.clients) || redis.clients.length === 0)
      throw new InvalidOptionsError('redis.clients', 'a non-empty array of ioredis clients', redis.clients);
    redis.clients.forEach((client, i) => {
      if (!hasMethods(client, 'evalsha', 'eval'))
        throw new InvalidOptionsError(`redis.clients[${i}]`, 'an ioredis client', client);
    });
  }
  return redis as ResolvedChangeStreamOptions['redis'];
}

/** The `lease` section: Redis when configured, else MongoDB; renewal and margin derived from the TTL. */
export function resolveLease(value: unknown, hasRedis: boolean): Required<LeaseOptions> {
  const lease = section(value, 'lease', false, LEASE_KEYS) ?? {};
  const d = DEFAULTS.lease;
  const store = optionalOneOf(
    lease.store,
    'lease.store',
    ['redis', 'mongo'] as const,
    hasRedis ? 'redis' : 'mongo',
  );
  if (store === 'redis' && !hasRedis)
    throw new InvalidOptionsError('redis', "Redis URLs or clients when lease.store is 'redis'", undefined);
  const ttlMs = optionalInt(lease.ttlMs, 'lease.ttlMs', 1_000, 60_000, d.ttlMs);
  const safetyMarginMs = optionalInt(
    lease.safetyMarginMs,
    'lease.safetyMarginMs',
    100,
    Math.floor(ttlMs / 2),
    Math.max(500, Math.round(ttlMs / 5)),
  );
  const maxRenew = ttlMs - safetyMarginMs - 1;
  return {
    store,
    ttlMs,
    renewIntervalMs: optionalInt(
      lease.renewIntervalMs,
      'lease.renewIntervalMs',
      50,
      maxRenew,
      Math.min(maxRenew, Math.round(ttlMs / 3)),
    ),
    safetyMarginMs,
    retryIntervalMs: optionalInt(
      lease.retryIntervalMs,
      'lease.retryIntervalMs',
      10,
      60_000,
      d.retryIntervalMs,
    ),
    retryJitterMs: optionalInt(lease.retryJitterMs, 'lease.retryJitterMs', 0, 60_000, d.retryJitterMs),
    keyPrefix: optionalString(lease.keyPrefix, 'lease.keyPrefix', d.keyPrefix),
  };
}
