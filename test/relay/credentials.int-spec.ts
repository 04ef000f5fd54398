/**
 * The library prints no credential from its options: a MongoDB URI with a user and password (checked
 * by the stand-in's SCRAM-SHA-256, as mongod does), Redis URLs and ioredis options with passwords (one
 * of the three servers unreachable, so ioredis reports connection errors for its URL), Kafka SASL
 * settings the broker refuses (the run's broker has no SASL listener: kafkajs' handshake fails, and
 * the relay retries its producer). Every log line at every level, the health report and the
 * metrics are searched for the secrets.
 */
import type { LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import {
  assessHealth,
  ChangeStreamInspector,
  ChangeStreamMetrics,
  ChangeStreamMetricsModule,
  ChangeStreamModule,
} from 'nest-change-stream';
import { startMongoStandin, type MongoStandin } from '../../tools/mongo-standin';
import { uniqueName, useGround } from '../support/ground';
import { freePort } from '../support/ports';
import { startRedis, stopRedis, type RedisInstance } from '../support/redis';
import { waitFor } from '../support/wait';

const MONGO_PASSWORD = 'M0ngoPassLib';
const REDIS_PASSWORD = 'RedisPassLib';
const SASL_USER = 'kafkaUserLib';
const SASL_PASSWORD = 'KafkaPassLib';
const SECRETS = [MONGO_PASSWORD, REDIS_PASSWORD, SASL_USER, SASL_PASSWORD];

/** Keeps every line of every level. */
class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  private keep = (...parts: unknown[]) => void this.lines.push(parts.map(String).join(' '));
  log = this.keep;
  error = this.keep;
  warn = this.keep;
  debug = this.keep;
  verbose = this.keep;
  fatal = this.keep;
}

describe('credentials in the library options (integration)', () => {
  const ground = useGround({ mongo: false });
  let mongo: MongoStandin;
  let redis: RedisInstance[];

  beforeAll(async () => {
    mongo = await startMongoStandin({ users: { libUser: MONGO_PASSWORD } });
    redis = await startRedis(2, REDIS_PASSWORD);
  });

  afterAll(async () => {
    await stopRedis(redis ?? []);
    await mongo?.stop();
  });

  it('never logs, reports or exports them', async () => {
    const unreachable = await freePort();
    const logger = new CapturingLogger();
    const registry = new Registry();
    const moduleRef = await Test.createTestingModule({
      imports: [
        ChangeStreamModule.forRoot({
          worker: false,
          mongo: { uri: `mongodb://libUser:${MONGO_PASSWORD}@127.0.0.1:${mongo.port}/?replicaSet=rs0` },
          kafka: {
            brokers: ground().kafkaBrokers,
            clientId: uniqueName('credentials'),
            sasl: { mechanism: 'plain', username: SASL_USER, password: SASL_PASSWORD },
            retry: { retries: 0 },
          },
          redis: {
            urls: [...redis.map((r) => r.url), `redis://127.0.0.1:${unreachable}`].map((url) =>
              url.replace('redis://', `redis://:${REDIS_PASSWORD}@`),
            ),
            options: { password: REDIS_PASSWORD },
          },
          lease: { ttlMs: 2_000 },
          streams: [{ db: uniqueName('db'), collection: 'orders' }],
        }),
        ChangeStreamMetricsModule.forRoot({ registry }),
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger });
    await app.init();
    try {
      // The lease was won (MongoDB and two Redis accepted the credentials); Kafka refused SASL.
      await waitFor(() => logger.lines.some((line) => /Kafka producer cannot connect/.test(line)), {
        timeoutMs: 30_000,
        what: 'the relay to report the refused Kafka connection',
      });
      await waitFor(() => logger.lines.some((line) => line.includes(`127.0.0.1:${unreachable}`)), {
        what: 'ioredis to report the unreachable Redis',
      });
      const health = assessHealth(await app.get(ChangeStreamInspector).inspect(), {
        relay: true,
        worker: false,
      });
      const metrics = await app.get(ChangeStreamMetrics).registry.metrics();
      const output = [...logger.lines, JSON.stringify(health), metrics].join('\n');
      expect(SECRETS.filter((secret) => output.includes(secret))).toEqual([]);
    } finally {
      await app.close();
    }
  }, 60_000);

  it('a URI the driver cannot parse: start-up fails with it redacted', async () => {
    // The driver's parser quotes the whole URI: "Protocol and host list are required in ...".
    const build = Test.createTestingModule({
      imports: [
        ChangeStreamModule.forRoot({
          relay: false,
          worker: false,
          mongo: { uri: `mongodb://libUser:${MONGO_PASSWORD}@` },
          kafka: { brokers: ground().kafkaBrokers },
        }),
      ],
    })
      .setLogger(new CapturingLogger())
      .compile();
    const error = (await build.then(
      () => new Error('start-up succeeded'),
      (e: Error) => e,
    )) as Error;
    expect(error.message).toMatch(/host list are required in "mongodb:\/\/<credentials>@"/);
    expect(SECRETS.filter((secret) => `${error.message}\n${error.stack}`.includes(secret))).toEqual([]);
  });
});
