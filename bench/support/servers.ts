/**
 * The servers one benchmark part runs against, through the dev servers' bootstrapper (tools/dev-servers):
 * the MongoDB stand-in in its own process (as a real mongod would be, so its work does not share the
 * measuring process's event loop), one Apache Kafka broker started here (so a part can kill and restart
 * it) and a redis-server; or the servers named by MONGO_URL / KAFKA_BROKERS / REDIS_URL(S).
 *
 * Importing this module makes the process kill every child it tracks when it exits or is interrupted.
 */
import { ORDERS_TOPIC } from '../../src/config/change-stream.config';
import type { KafkaCluster } from '../../tools/kafka-broker';
import { kafkaJars } from '../../tools/kafka-broker';
import { exitOnSignals, track } from '../../tools/launch/child-processes';
import { startMongoProcess } from '../../tools/dev-servers/mongo-process';
import { startDevServers } from '../../tools/dev-servers/servers';

/** The servers one part runs against. */
export interface BenchServers {
  mongoUrl: string;
  kafkaBrokers: string[];
  redisUrls: string[];
  /** The Kafka broker when it runs here (undefined against KAFKA_BROKERS): kill, restart. */
  kafka?: KafkaCluster;
  /** The MongoDB stand-in's process id (undefined against a real server). */
  mongoPid?: number;
  /** True where the environment named a real server. */
  real: { mongo: boolean; kafka: boolean; redis: boolean };
  stop(): Promise<void>;
}

/** Which servers a run uses, for the report's conditions. */
export function serverKinds(): { mongo: string; kafka: string; redis: string } {
  return {
    mongo: process.env.MONGO_URL ? 'real server (MONGO_URL)' : 'stand-in, own process',
    kafka: process.env.KAFKA_BROKERS
      ? 'real cluster (KAFKA_BROKERS)'
      : `Apache Kafka ${kafkaJars().version}, 1 broker (a JVM on this machine, 512 MB heap)`,
    redis:
      process.env.REDIS_URLS || process.env.REDIS_URL
        ? 'real server (REDIS_URL)'
        : 'redis-server, 1 instance',
  };
}

/** Starts (or names) the servers of one part. `oplogMaxEntries` applies to the MongoDB stand-in. */
export async function startServers(options: { oplogMaxEntries?: number } = {}): Promise<BenchServers> {
  // NOTE: the stand-in in a process of its own, so its work does not share this process's event loop.
  const servers = await startDevServers({
    mongo: { process: true, oplogMaxEntries: options.oplogMaxEntries },
    kafka: { topics: [ORDERS_TOPIC] },
    redis: 1,
  });
  return {
    mongoUrl: servers.mongoUrl,
    kafkaBrokers: servers.kafkaBrokers,
    redisUrls: servers.redisUrls,
    kafka: servers.kafka,
    mongoPid: servers.mongoPid,
    real: servers.real,
    stop: () => servers.stop().catch(() => undefined),
  };
}

/** Every child this process started: killed when it exits or is interrupted (SIGINT / SIGTERM exit 130). */
export { track, startMongoProcess };
exitOnSignals();
