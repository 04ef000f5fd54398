import { Logger } from '@nestjs/common';
import { redactUri } from 'nest-change-stream';
import type { ServiceEnvironment } from './environment';

/** Where the service's servers are, and how to stop the ones it started itself. */
export interface ResolvedServers {
  mongoUrl: string;
  kafkaBrokers: string[];
  redisUrls: string[];
  /** Which servers were started here, embedded (for the log and /health). */
  embedded: { mongo: boolean; kafka: boolean; redis: boolean };
  /** Apache Kafka's version when the embedded broker runs (undefined for an external cluster). */
  kafkaVersion?: string;
  stop(): Promise<void>;
}

/**
 * Uses the servers the environment names; starts embedded ones for those it does not (the MongoDB
 * wire stand-in, a real Apache Kafka broker, a redis-server process). They live under test/ and are
 * loaded only when needed: the library never depends on them.
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
    let kafkaVersion: string | undefined;
    if (kafkaBrokers.length === 0) {
      const { startKafka } = await import('../../test/kafka-broker/cluster');
      const kafka = await startKafka({ brokers: 1, topics });
      stops.push(() => kafka.stop());
      kafkaBrokers = kafka.brokers;
      kafkaVersion = kafka.version;
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
    // NOTE: the URLs are logged with their credentials redacted.
    const describe = (name: string, isEmbedded: boolean, where: string) =>
      `${name}: ${isEmbedded ? 'embedded' : 'external'} at ${where}`;
    logger.log(
      describe(embedded.mongo ? 'MongoDB (wire stand-in)' : 'MongoDB', embedded.mongo, redactUri(mongoUrl)),
    );
    logger.log(
      describe(
        kafkaVersion ? `Apache Kafka ${kafkaVersion}` : 'Kafka',
        embedded.kafka,
        kafkaBrokers.join(','),
      ),
    );
    logger.log(describe('Redis', embedded.redis, redisUrls.map(redactUri).join(',')));
    return { mongoUrl, kafkaBrokers, redisUrls, embedded, kafkaVersion, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
