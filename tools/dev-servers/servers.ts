/**
 * The one bootstrapper of the embedded servers, shared by the example service's embedded default
 * (src/config/servers.ts), the scripts, the benchmarks (bench/support/servers.ts) and the test ground
 * (test/support/ground.ts): for each of MongoDB, Kafka and Redis it uses the server the caller names
 * (from MONGO_URL / KAFKA_BROKERS / REDIS_URL(S) by default) or starts one here — the MongoDB wire
 * stand-in (tools/mongo-standin), a real Apache Kafka broker (tools/kafka-broker), redis-server
 * processes. `stop()` stops what it started, in reverse order. Each launcher is loaded only when
 * something is started (the example service against real servers loads none). The library never
 * imports this.
 */
import type { KafkaCluster, KafkaTopic } from '../kafka-broker';
import type { MongoStandin, MongoStandinOptions } from '../mongo-standin';
import type { RedisInstance } from './redis';

/** Servers named by the environment (or the caller); an empty value means "start one here". */
export interface NamedServers {
  mongoUrl?: string;
  kafkaBrokers: string[];
  redisUrls: string[];
}

/** Settings of a stand-in started here. */
export type StandinSettings = Pick<
  MongoStandinOptions,
  'oplogMaxEntries' | 'oplogMaxBytes' | 'noopIntervalMs'
>;

/** What to start when no server is named. */
export interface DevServerOptions {
  /** MongoDB: false for none; else the stand-in's settings, `process: true` for a process of its own. Default: in this process. */
  mongo?: false | (StandinSettings & { process?: boolean });
  /** Kafka: false for none; else the cluster to start (`dedicated`: even when brokers are named). Default: 1 broker. */
  kafka?:
    false | { brokers?: number; topics?: KafkaTopic[]; config?: Record<string, string>; dedicated?: boolean };
  /** redis-server instances to start when no Redis is named. Default: 0. */
  redis?: number;
  /** Default: `serversFromEnv()`. */
  named?: NamedServers;
}

/** The servers to use, and what was started here. */
export interface DevServers {
  mongoUrl: string;
  kafkaBrokers: string[];
  redisUrls: string[];
  /** The in-process stand-in, when started here: its fault injection. */
  mongo?: MongoStandin;
  /** The stand-in's process id, when it runs in a process of its own. */
  mongoPid?: number;
  /** The Kafka cluster started here: its fault controls. */
  kafka?: KafkaCluster;
  redis: RedisInstance[];
  /** True where a named (external) server is used. */
  real: { mongo: boolean; kafka: boolean; redis: boolean };
  /** Stops what was started here (all of it, then throws the first error). */
  stop(): Promise<void>;
}

/** A comma-separated list, trimmed, without empty parts. */
export const envList = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);

/** The servers MONGO_URL, KAFKA_BROKERS and REDIS_URLS (or REDIS_URL) name. */
export function serversFromEnv(env: NodeJS.ProcessEnv = process.env): NamedServers {
  return {
    mongoUrl: env.MONGO_URL || undefined,
    kafkaBrokers: envList(env.KAFKA_BROKERS),
    redisUrls: envList(env.REDIS_URLS || env.REDIS_URL),
  };
}

/** Uses the named servers and starts the others (see the file's comment). */
export async function startDevServers(options: DevServerOptions = {}): Promise<DevServers> {
  const named = options.named ?? serversFromEnv();
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    const errors: unknown[] = [];
    for (const fn of stops.reverse()) await fn().catch((error) => errors.push(error));
    stops.length = 0;
    if (errors.length) throw errors[0];
  };
  try {
    const servers: DevServers = {
      mongoUrl: named.mongoUrl ?? '',
      kafkaBrokers: named.kafkaBrokers,
      redisUrls: named.redisUrls,
      redis: [],
      real: { mongo: !!named.mongoUrl, kafka: false, redis: named.redisUrls.length > 0 },
      stop,
    };
    if (options.mongo !== false && !named.mongoUrl) {
      const { process: ownProcess, ...settings } = options.mongo ?? {};
      if (ownProcess) {
        const { startMongoProcess } = await import('./mongo-process');
        const mongo = await startMongoProcess(standinArgs(settings));
        stops.push(() => mongo.stop());
        Object.assign(servers, { mongoUrl: mongo.url, mongoPid: mongo.pid });
      } else {
        const { startMongoStandin } = await import('../mongo-standin');
        const mongo = await startMongoStandin(settings);
        stops.push(() => mongo.stop());
        Object.assign(servers, { mongoUrl: mongo.url, mongo });
      }
    }
    const kafka = options.kafka === false ? undefined : (options.kafka ?? {});
    if (kafka && (kafka.dedicated || (kafka.brokers ?? 1) > 1 || named.kafkaBrokers.length === 0)) {
      const { startKafka } = await import('../kafka-broker');
      const cluster = await startKafka({
        brokers: kafka.brokers ?? 1,
        topics: kafka.topics,
        config: kafka.config,
      });
      stops.push(() => cluster.stop());
      Object.assign(servers, { kafka: cluster, kafkaBrokers: cluster.brokers });
    }
    servers.real.kafka = !servers.kafka && named.kafkaBrokers.length > 0;
    if ((options.redis ?? 0) > 0 && named.redisUrls.length === 0) {
      const { startRedis, stopRedis } = await import('./redis');
      const redis = await startRedis(options.redis);
      stops.push(() => stopRedis(redis));
      Object.assign(servers, { redis, redisUrls: redis.map((instance) => instance.url) });
    }
    return servers;
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}

/** The stand-in CLI's arguments for these settings. */
function standinArgs(settings: StandinSettings): string[] {
  const args: string[] = [];
  if (settings.oplogMaxEntries) args.push('--oplog-max-entries', String(settings.oplogMaxEntries));
  if (settings.oplogMaxBytes) args.push('--oplog-max-bytes', String(settings.oplogMaxBytes));
  if (settings.noopIntervalMs !== undefined) args.push('--noop-interval-ms', String(settings.noopIntervalMs));
  return args;
}
