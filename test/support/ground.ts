/**
 * The one entry for integration tests: hands each test { mongoUrl, kafkaBrokers, redisUrls }.
 * From the environment when MONGO_URL / KAFKA_BROKERS / REDIS_URL(S) are set (real servers, e.g.
 * docker-compose), otherwise from servers it starts through the dev servers' bootstrapper
 * (tools/dev-servers/servers.ts): the MongoDB wire stand-in, real Apache Kafka
 * (tools/kafka-broker), and real redis-server processes. Everything it started is stopped by
 * `stop()`, which `useGround` calls in afterAll even when a test failed.
 *
 * Kafka: test files share the one broker the jest run started (test/support/jest-kafka.ts), with
 * unique topic and group names per test. A test that injects broker faults, or needs 3 brokers,
 * asks for a cluster of its own (`kafka: { dedicated: true }`).
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { envList, serversFromEnv, startDevServers } from '../../tools/dev-servers/servers';
import type { KafkaCluster, KafkaTopic } from '../../tools/kafka-broker';
import type { MongoStandin } from '../../tools/mongo-standin';
import type { RedisInstance } from './redis';

export interface GroundOptions {
  /** Start (or use) MongoDB. Options apply to the stand-in only. Default: true. */
  mongo?: boolean | { oplogMaxEntries?: number; oplogMaxBytes?: number; noopIntervalMs?: number };
  /** Use Kafka, with these topics created. Default: true, the run's shared broker. */
  kafka?:
    | boolean
    | {
        /** Nodes of a dedicated cluster (implies `dedicated` when above 1). */
        brokers?: number;
        topics?: KafkaTopic[];
        /**
         * Start a cluster of this test's own, even when KAFKA_BROKERS names one: for tests that kill,
         * stop or pause a broker (see `Ground.kafka`). Default: false.
         */
        dedicated?: boolean;
        /** Broker settings of a dedicated cluster, e.g. `{ 'message.max.bytes': '41943040' }`. */
        config?: Record<string, string>;
      };
  /** Number of Redis instances (3 for a Redlock quorum). Default: 0. */
  redis?: number;
}

export interface Ground {
  mongoUrl: string;
  kafkaBrokers: string[];
  redisUrls: string[];
  /** The MongoDB stand-in, when it was started (undefined against a real server): its fault injection. */
  mongo?: MongoStandin;
  /**
   * The Kafka cluster the ground started, with its fault controls (kill, stop, pause, resume,
   * restart): always with `dedicated`, and outside a jest run whenever KAFKA_BROKERS is unset.
   */
  kafka?: KafkaCluster;
  redis: RedisInstance[];
  /** True where the environment named a real server. */
  real: { mongo: boolean; kafka: boolean; redis: boolean };
  /** Creates a topic with this many partitions, and waits for its leaders. */
  createTopic(name: string, partitions: number): Promise<void>;
  stop(): Promise<void>;
}

/** Names that do not collide across tests and runs against shared real servers. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

/** Set by the jest run's global setup to the broker all test files share (see jest-kafka.ts). */
export const SHARED_KAFKA_ENV = 'TEST_GROUND_KAFKA_BROKERS';

/** The servers MONGO_URL / KAFKA_BROKERS / REDIS_URL(S) name. */
export function groundFromEnv(env: NodeJS.ProcessEnv = process.env) {
  return serversFromEnv(env);
}

export async function startGround(options: GroundOptions = {}): Promise<Ground> {
  const env = groundFromEnv();
  const kafkaOptions = typeof options.kafka === 'object' ? options.kafka : {};
  const servers = await startDevServers({
    mongo: options.mongo === false ? false : typeof options.mongo === 'object' ? options.mongo : {},
    kafka: options.kafka === false ? false : kafkaOptions,
    redis: options.redis ?? 0,
    named: {
      ...env,
      // NOTE: without KAFKA_BROKERS, the broker this jest run started for every test file.
      kafkaBrokers: env.kafkaBrokers.length ? env.kafkaBrokers : envList(process.env[SHARED_KAFKA_ENV]),
    },
  });
  const { kafka, kafkaBrokers } = servers;
  try {
    const createTopic = async (name: string, partitions: number) => {
      if (kafka) return kafka.createTopic({ name, partitions });
      const admin = new Kafka({ brokers: kafkaBrokers, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        await admin.createTopics({
          topics: [{ topic: name, numPartitions: partitions }],
          waitForLeaders: true,
        });
      } finally {
        await admin.disconnect();
      }
    };
    if (!kafka && kafkaBrokers.length && kafkaOptions.topics?.length) {
      for (const topic of kafkaOptions.topics) await createTopic(topic.name, topic.partitions);
    }
    return {
      mongoUrl: servers.mongoUrl,
      kafkaBrokers,
      redisUrls: env.redisUrls.length ? env.redisUrls.slice(0, options.redis ?? 0) : servers.redisUrls,
      mongo: servers.mongo,
      kafka,
      redis: servers.redis,
      real: {
        mongo: !!env.mongoUrl,
        kafka: !kafka && env.kafkaBrokers.length > 0,
        redis: env.redisUrls.length > 0,
      },
      createTopic,
      stop: servers.stop,
    };
  } catch (error) {
    await servers.stop().catch(() => undefined);
    throw error;
  }
}

/**
 * Jest helper: starts the ground in beforeAll and stops it in afterAll (also after a failure).
 * Returns a getter, since the ground exists only once beforeAll ran.
 */
export function useGround(options: GroundOptions = {}, timeoutMs = 60_000): () => Ground {
  let ground: Ground | undefined;
  beforeAll(async () => {
    ground = await startGround(options);
  }, timeoutMs);
  afterAll(async () => {
    await ground?.stop();
  }, timeoutMs);
  return () => {
    if (!ground)
      throw new Error('the ground is not started: call useGround() at the top of a describe block');
    return ground;
  };
}
