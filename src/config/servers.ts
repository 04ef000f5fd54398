import { Logger } from '@nestjs/common';
import type { ServiceEnvironment } from './environment';

/** Where the service's servers are, and how to stop the ones it started itself. */
export interface ResolvedServers {
  mongoUrl: string;
  kafkaBrokers: string[];
  redisUrls: string[];
  /** Which servers are the embedded stand-ins (for the log and /health). */
  embedded: { mongo: boolean; kafka: boolean; redis: boolean };
  stop(): Promise<void>;
}

/**
 * Uses the servers the environment names; starts embedded stand-ins for the ones it does not
 * (MongoDB wire stand-in, librdkafka's mock Kafka cluster, a redis-server process). The stand-ins
 * live under test/standins and are loaded only when needed: the library never depends on them.
 */
export async function resolveServers(
  env: ServiceEnvironment,
  topics: Array<{ name: string; partitions: number }> = [],
  logger = new Logger('Servers'),
): Promise<ResolvedServers> {
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch(() => undefined);
    stops.length = 0;
  };
  try {
    let mongoUrl = env.mongoUrl;
    if (!mongoUrl) {
      const { startMongoStandin } = await import('../../test/standins/mongo/harness');
      const mongo = await startMongoStandin();
      stops.push(() => mongo.stop());
      mongoUrl = mongo.url;
    }
    let kafkaBrokers = env.kafkaBrokers;
    if (kafkaBrokers.length === 0) {
      const { startKafkaStandin } = await import('../../test/standins/kafka/harness');
      // NOTE: behind the group-sync proxy: replicas of one worker group start together, and the mock
      // coordinator would fail a member whose SyncGroup arrives after the leader's (kafkajs stops for good).
      const kafka = await startKafkaStandin({ brokers: 1, topics, groupSyncProxy: true });
      stops.push(() => kafka.stop());
      kafkaBrokers = kafka.brokers;
    }
    let redisUrls = env.redisUrls;
    if (redisUrls.length === 0) {
      const { startRedis, stopRedis } = await import('../../test/support/redis');
      const redis = await startRedis(1);
      stops.push(() => stopRedis(redis));
      redisUrls = redis.map((instance) => instance.url);
    }
    const embedded = {
      mongo: !env.mongoUrl,
      kafka: env.kafkaBrokers.length === 0,
      redis: env.redisUrls.length === 0,
    };
    const describe = (name: string, isEmbedded: boolean, where: string) =>
      `${name}: ${isEmbedded ? 'embedded stand-in' : 'external'} at ${where}`;
    logger.log(describe('MongoDB', embedded.mongo, mongoUrl));
    logger.log(describe('Kafka', embedded.kafka, kafkaBrokers.join(',')));
    logger.log(describe('Redis', embedded.redis, redisUrls.join(',')));
    return { mongoUrl, kafkaBrokers, redisUrls, embedded, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
