/** The module options, resolved once at start-up: each section by its own resolver, defaults applied. */
import type {
  ChangeStreamModuleOptions,
  ResolvedChangeStreamOptions,
} from '../interfaces/change-stream-options.interface';
import type { WorkerOptions } from '../interfaces/worker-options.interface';
import { optionalOneOf, optionKeys, section } from '../utils/option-validators';
import { logDeprecations, type DeprecationSink } from './backoff';
import { DEFAULTS } from './defaults';
import { resolveKafka } from './kafka';
import { resolveLease, resolveRedis } from './lease';
import { resolveMongo } from './mongo';
import { resolveRelay } from './relay';
import { resolveRoles, roleSection } from './roles';
import { resolveExcluded, resolveStorage } from './storage';
import { resolveStreams } from './streams';
import { checkDedupe, validateWorkerOptions } from './worker';

/** Every top-level option: the compiler keeps it in step with ChangeStreamModuleOptions. */
export const ROOT_OPTION_KEYS = optionKeys<ChangeStreamModuleOptions>({
  // NOTE: listener / consumer are the old role toggles, still accepted (see ./roles).
  listener: true,
  consumer: true,
  mongo: true,
  kafka: true,
  redis: true,
  lease: true,
  streams: true,
  onHistoryLost: true,
  excludeNamespaces: true,
  storage: true,
  relay: true,
  worker: true,
});

/**
 * Validates the module options and applies DEFAULTS. Throws InvalidOptionsError naming the first
 * bad option and what it accepts; tells `deprecated` (by default: a warning logged once each) of
 * every deprecated option used. Runs once, when the module's providers are created.
 */
export function resolveOptions(
  raw: ChangeStreamModuleOptions,
  deprecated: DeprecationSink = logDeprecations(),
): ResolvedChangeStreamOptions {
  const options = section(raw, '', true, ROOT_OPTION_KEYS)!;
  const roles = resolveRoles(options, deprecated);
  const mongo = resolveMongo(options.mongo);
  const kafka = resolveKafka(options.kafka);
  const redis = resolveRedis(options.redis);
  const lease = resolveLease(options.lease, redis !== null);
  const storage = resolveStorage(options.storage);
  const excludeNamespaces = resolveExcluded(options.excludeNamespaces, storage);
  const streams = resolveStreams(options.streams, roles.relay, kafka.topicPrefix, excludeNamespaces);
  const relay = resolveRelay(roleSection(options, 'relay'), kafka.topicPrefix, deprecated);
  const worker = validateWorkerOptions(
    roleSection(options, 'worker') as WorkerOptions | undefined,
    'worker',
    deprecated,
  );
  return {
    roles,
    mongo,
    kafka,
    redis,
    lease,
    streams,
    onHistoryLost: optionalOneOf(
      options.onHistoryLost,
      'onHistoryLost',
      ['fail', 'resnapshot'] as const,
      DEFAULTS.onHistoryLost,
    ),
    excludeNamespaces,
    storage,
    relay,
    worker: checkDedupe(worker, roles.relay, relay),
  };
}
