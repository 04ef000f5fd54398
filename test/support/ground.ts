/**
 * The one entry for integration tests: hands each test { mongoUrl, kafkaBrokers, redisUrls }.
 * From the environment when MONGO_URL / KAFKA_BROKERS / REDIS_URL(S) are set (real servers, e.g.
 * docker-compose), otherwise from stand-ins it starts: the MongoDB wire stand-in, librdkafka's mock
 * Kafka cluster, and real redis-server processes. Everything it started is stopped by `stop()`,
 * which `useGround` calls in afterAll even when a test failed.
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { startKafkaStandin, type KafkaStandin } from '../standins/kafka/harness';
import { startMongoStandin, type MongoStandin } from '../standins/mongo/harness';
import { startRedis, stopRedis, type RedisInstance } from './redis';

export interface GroundOptions {
  /** Start (or use) MongoDB. Options apply to the stand-in only. Default: true. */
  mongo?: boolean | { oplogMaxEntries?: number; oplogMaxBytes?: number; noopIntervalMs?: number };
  /** Start (or use) Kafka with these topics. Default: true, one broker. */
  kafka?:
    | boolean
    | {
        brokers?: number;
        topics?: Array<{ name: string; partitions: number }>;
        /**
         * Reach the stand-in through its group-sync proxy (see KafkaStandinOptions.groupSyncProxy), so
         * members that join a running group are not failed by the mock coordinator. Default: true.
         */
        groupSyncProxy?: boolean;
      };
  /** Number of Redis instances (3 for a Redlock quorum). Default: 0. */
  redis?: number;
}

export interface Ground {
  mongoUrl: string;
  kafkaBrokers: string[];
  redisUrls: string[];
  /** The stand-ins, when they were started (undefined against real servers): fault injection lives here. */
  mongo?: MongoStandin;
  kafka?: KafkaStandin;
  redis: RedisInstance[];
  /** True where the environment named a real server. */
  real: { mongo: boolean; kafka: boolean; redis: boolean };
  /** Creates a topic with this many partitions, on the stand-in or on a real cluster. */
  createTopic(name: string, partitions: number): Promise<void>;
  stop(): Promise<void>;
}

/** Names that do not collide across tests and runs against shared real servers. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

const envList = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);

export function groundFromEnv(env: NodeJS.ProcessEnv = process.env) {
  return {
    mongoUrl: env.MONGO_URL || undefined,
    kafkaBrokers: envList(env.KAFKA_BROKERS),
    redisUrls: envList(env.REDIS_URLS || env.REDIS_URL),
  };
}

export async function startGround(options: GroundOptions = {}): Promise<Ground> {
  const env = groundFromEnv();
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    const errors: unknown[] = [];
    for (const fn of stops.reverse()) await fn().catch((error) => errors.push(error));
    stops.length = 0;
    if (errors.length) throw errors[0];
  };
  try {
    let mongo: MongoStandin | undefined;
    let mongoUrl = env.mongoUrl ?? '';
    if (options.mongo !== false && !env.mongoUrl) {
      mongo = await startMongoStandin(typeof options.mongo === 'object' ? options.mongo : {});
      stops.push(() => mongo!.stop());
      mongoUrl = mongo.url;
    }

    const kafkaOptions = typeof options.kafka === 'object' ? options.kafka : {};
    let kafka: KafkaStandin | undefined;
    let kafkaBrokers = env.kafkaBrokers;
    if (options.kafka !== false && kafkaBrokers.length === 0) {
      kafka = await startKafkaStandin({
        brokers: kafkaOptions.brokers ?? 1,
        topics: kafkaOptions.topics ?? [],
        groupSyncProxy: kafkaOptions.groupSyncProxy ?? true,
      });
      stops.push(() => kafka!.stop());
      kafkaBrokers = kafka.brokers;
    }

    let redis: RedisInstance[] = [];
    let redisUrls = env.redisUrls.slice(0, options.redis ?? 0);
    if ((options.redis ?? 0) > 0 && env.redisUrls.length === 0) {
      redis = await startRedis(options.redis);
      stops.push(() => stopRedis(redis));
      redisUrls = redis.map((instance) => instance.url);
    }

    const createTopic = async (name: string, partitions: number) => {
      if (kafka) return kafka.createTopic(name, partitions);
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
      mongoUrl,
      kafkaBrokers,
      redisUrls,
      mongo,
      kafka,
      redis,
      real: { mongo: !!env.mongoUrl, kafka: env.kafkaBrokers.length > 0, redis: env.redisUrls.length > 0 },
      createTopic,
      stop,
    };
  } catch (error) {
    await stop().catch(() => undefined);
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
