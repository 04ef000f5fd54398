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
 * wire stand-in, a real Apache Kafka broker, a redis-server process) through the dev servers'
 * bootstrapper (tools/dev-servers), loaded only when needed: the library never depends on it.
 */
export async function resolveServers(
  env: ServiceEnvironment,
  topics: Array<{ name: string; partitions: number }> = [],
  logger = new Logger('Servers'),
): Promise<ResolvedServers> {
  const servers = await namedOrStarted(env, topics);
  const stop = () => servers.stop().catch(() => undefined);
  try {
    const { mongoUrl, kafkaBrokers, redisUrls } = servers;
    const kafkaVersion = servers.kafka?.version;
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

/** The named servers as they are, or, when one is missing, the dev servers' bootstrapper's. */
async function namedOrStarted(
  env: ServiceEnvironment,
  topics: Array<{ name: string; partitions: number }>,
): Promise<{
  mongoUrl: string;
  kafkaBrokers: string[];
  redisUrls: string[];
  kafka?: { version: string };
  stop(): Promise<void>;
}> {
  const { mongoUrl, kafkaBrokers, redisUrls } = env;
  if (mongoUrl && kafkaBrokers.length > 0 && redisUrls.length > 0) {
    return { mongoUrl, kafkaBrokers, redisUrls, stop: async () => undefined };
  }
  // NOTE: dev tooling, loaded only when a server is missing: a production build does not ship tools/.
  const { startDevServers } = await import('../../tools/dev-servers/servers');
  return startDevServers({
    mongo: {},
    kafka: { brokers: 1, topics },
    redis: 1,
    named: { mongoUrl, kafkaBrokers, redisUrls },
  });
}
