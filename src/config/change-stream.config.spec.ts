import type { Connection } from 'mongoose';
import { changeStreamOptions, rolesOf } from './change-stream.config';
import { parseEnvironment } from './environment';
import type { ResolvedServers } from './servers';

const servers = (embeddedKafka: boolean): ResolvedServers => ({
  mongoUrl: 'mongodb://m/?replicaSet=rs0',
  kafkaBrokers: ['k:9092'],
  redisUrls: ['redis://r:6379'],
  embedded: { mongo: false, kafka: embeddedKafka, redis: false },
  stop: async () => undefined,
});
const connection = { getClient: () => ({}) } as unknown as Connection;

describe('change-stream configuration of the service', () => {
  it.each([
    ['relay', { relay: true, worker: false }],
    ['worker', { relay: false, worker: true }],
    ['all', { relay: true, worker: true }],
  ] as const)('APP_ROLE=%s runs %p', (role, roles) => {
    expect(rolesOf(role)).toEqual(roles);
  });

  it('turns the role an APP_ROLE does not run off with false', () => {
    const relayOnly = changeStreamOptions(
      parseEnvironment({ APP_ROLE: 'relay' }),
      servers(false),
      connection,
    );
    expect(relayOnly).toMatchObject({ relay: {}, worker: false });
    const workerOnly = changeStreamOptions(
      parseEnvironment({ APP_ROLE: 'worker' }),
      servers(false),
      connection,
    );
    expect(workerOnly).toMatchObject({ relay: false, worker: { groupId: 'orders-read-models' } });
  });

  it('shares the mongoose connection and watches shop.orders', () => {
    const options = changeStreamOptions(
      parseEnvironment({ LEASE_TTL_MS: '4000' }),
      servers(false),
      connection,
    );
    expect(options).toMatchObject({
      mongo: { connection },
      kafka: { brokers: ['k:9092'] },
      redis: { urls: ['redis://r:6379'] },
      lease: { ttlMs: 4000 },
      streams: [{ db: 'shop', collection: 'orders' }],
      worker: { groupId: 'orders-read-models', database: 'shop' },
    });
    expect(options.worker && options.worker.kafka).toBeUndefined();
  });

  it("passes ON_HISTORY_LOST as onHistoryLost, and leaves the library's default when unset", () => {
    const chosen = changeStreamOptions(
      parseEnvironment({ ON_HISTORY_LOST: 'resnapshot' }),
      servers(false),
      connection,
    );
    expect(chosen.onHistoryLost).toBe('resnapshot');
    expect(changeStreamOptions(parseEnvironment({}), servers(false), connection)).not.toHaveProperty(
      'onHistoryLost',
    );
  });

  it('passes RELAY_MAX_PUBLISH_STALL_MS as relay.maxPublishStallMs, and no relay options when unset', () => {
    const env = parseEnvironment({ RELAY_MAX_PUBLISH_STALL_MS: '2000' });
    expect(changeStreamOptions(env, servers(false), connection).relay).toEqual({ maxPublishStallMs: 2000 });
    expect(changeStreamOptions(parseEnvironment({}), servers(false), connection).relay).toEqual({});
  });

  it('passes RELAY_DELIVERY as relay.delivery and WORKER_DEDUPE as worker.dedupe', () => {
    const env = parseEnvironment({ RELAY_DELIVERY: 'exactly-once', WORKER_DEDUPE: 'offsets' });
    const options = changeStreamOptions(env, servers(false), connection);
    expect(options.relay).toEqual({ delivery: 'exactly-once' });
    expect(options.worker).toMatchObject({ dedupe: 'offsets' });
    expect(changeStreamOptions(parseEnvironment({}), servers(false), connection).worker).not.toHaveProperty(
      'dedupe',
    );
  });

  it('shortens the consumer-group timings on the embedded Kafka or when asked', () => {
    const embedded = changeStreamOptions(parseEnvironment({}), servers(true), connection);
    expect(embedded.worker && embedded.worker.kafka).toEqual({
      sessionTimeout: 6000,
      heartbeatInterval: 500,
      maxWaitTimeInMs: 100,
    });
    const asked = changeStreamOptions(
      parseEnvironment({ KAFKA_SESSION_TIMEOUT_MS: '12000' }),
      servers(false),
      connection,
    );
    expect(asked.worker && asked.worker.kafka).toMatchObject({
      sessionTimeout: 12000,
      heartbeatInterval: 1000,
    });
  });
});
