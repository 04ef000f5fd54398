/**
 * The chaos run's servers: MONGO_URL / KAFKA_BROKERS / REDIS_URL(S) when set (real servers: the
 * faults that need stand-in control of them are skipped), otherwise stand-ins started in this
 * process so faults can be injected: the MongoDB stand-in, the Kafka stand-in behind its group-sync
 * proxy (replicas restarted by the run join a running consumer group), one redis-server.
 */
import { Kafka, logLevel } from 'kafkajs';
import { startKafkaStandin, type KafkaStandin } from '../standins/kafka/harness';
import { startMongoStandin, type MongoStandin } from '../standins/mongo/harness';
import { groundFromEnv } from '../support/ground';
import { startRedis, stopRedis, type RedisInstance } from '../support/redis';

export interface ChaosServers {
  mongoUrl: string;
  kafkaBrokers: string[];
  redisUrls: string[];
  /** The stand-ins (absent for a real server): fault injection lives here. */
  mongo?: MongoStandin;
  kafka?: KafkaStandin;
  redis: RedisInstance[];
  real: { mongo: boolean; kafka: boolean; redis: boolean };
  stop(): Promise<void>;
}

export async function startChaosServers(options: {
  topic: { name: string; partitions: number };
  oplogMaxEntries: number;
}): Promise<ChaosServers> {
  const env = groundFromEnv();
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch(() => undefined);
    stops.length = 0;
  };
  try {
    let mongo: MongoStandin | undefined;
    if (!env.mongoUrl) {
      mongo = await startMongoStandin({ oplogMaxEntries: options.oplogMaxEntries });
      stops.push(() => mongo!.stop());
    }
    let kafka: KafkaStandin | undefined;
    if (env.kafkaBrokers.length === 0) {
      kafka = await startKafkaStandin({ brokers: 1, topics: [options.topic], groupSyncProxy: true });
      stops.push(() => kafka!.stop());
    } else {
      await createTopic(env.kafkaBrokers, options.topic);
    }
    let redis: RedisInstance[] = [];
    if (env.redisUrls.length === 0) {
      redis = await startRedis(1);
      stops.push(() => stopRedis(redis));
    }
    return {
      mongoUrl: env.mongoUrl ?? mongo!.url,
      kafkaBrokers: kafka?.brokers ?? env.kafkaBrokers,
      redisUrls: redis.length ? redis.map((r) => r.url) : env.redisUrls,
      mongo,
      kafka,
      redis,
      real: { mongo: !mongo, kafka: !kafka, redis: redis.length === 0 },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Creates the topic on a real cluster (nothing happens when it exists). */
async function createTopic(brokers: string[], topic: { name: string; partitions: number }): Promise<void> {
  const admin = new Kafka({ brokers, clientId: 'chaos-run', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic: topic.name, numPartitions: topic.partitions }],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}
