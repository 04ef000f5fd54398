import type { Connection } from 'mongoose';
import { logLevel } from 'kafkajs';
import type { ChangeStreamModuleOptions } from 'nest-change-stream';
import { SHOP_DB } from '../orders/order.schema';
import type { AppRole, ServiceEnvironment } from './environment';
import type { ResolvedServers } from './servers';

/** The stream this service relays, and its Kafka topic (created up front on the embedded Kafka). */
export const ORDERS_STREAM = { db: SHOP_DB, collection: 'orders' } as const;
export const ORDERS_TOPIC = { name: `cdc.${SHOP_DB}.orders`, partitions: 4 };

/** Which library roles an APP_ROLE runs. */
export function rolesOf(role: AppRole): { relay: boolean; worker: boolean } {
  return { relay: role !== 'worker', worker: role !== 'relay' };
}

/**
 * The ChangeStreamModule options of this service. The mongoose connection is shared, so the
 * handlers' writes through `ctx.session` join the processed-event marker's transaction.
 */
export function changeStreamOptions(
  env: ServiceEnvironment,
  servers: ResolvedServers,
  connection: Connection,
): ChangeStreamModuleOptions {
  const roles = rolesOf(env.role);
  return {
    mongo: { connection },
    kafka: { brokers: servers.kafkaBrokers, clientId: 'orders-service', logLevel: logLevel.WARN },
    redis: { urls: servers.redisUrls },
    lease: env.leaseTtlMs ? { ttlMs: env.leaseTtlMs } : {},
    streams: [{ ...ORDERS_STREAM }],
    ...(env.onHistoryLost ? { onHistoryLost: env.onHistoryLost } : {}),
    relay: roles.relay && {
      ...(env.maxPublishStallMs ? { maxPublishStallMs: env.maxPublishStallMs } : {}),
      ...(env.delivery ? { delivery: env.delivery } : {}),
    },
    worker: roles.worker && {
      groupId: 'orders-read-models',
      database: SHOP_DB,
      ...(env.dedupe ? { dedupe: env.dedupe } : {}),
      ...(env.workerBatchSize ? { batchSize: env.workerBatchSize } : {}),
      ...groupTimings(env, servers),
    },
  };
}

/** The embedded Kafka's coordinator holds each rebalance for about a session timeout: keep it short there. */
const EMBEDDED_SESSION_TIMEOUT_MS = 6_000;

/**
 * Consumer group timings: KAFKA_SESSION_TIMEOUT_MS (or the embedded Kafka's short default) sets how
 * fast a dead worker's partitions move to the others; heartbeats and empty-fetch waits follow it.
 */
function groupTimings(env: ServiceEnvironment, servers: ResolvedServers) {
  const sessionTimeout =
    env.kafkaSessionTimeoutMs ?? (servers.embedded.kafka ? EMBEDDED_SESSION_TIMEOUT_MS : undefined);
  if (sessionTimeout === undefined) return {};
  const beat = Math.floor(sessionTimeout / 12);
  return { kafka: { sessionTimeout, heartbeatInterval: beat, maxWaitTimeInMs: Math.min(100, beat) } };
}
