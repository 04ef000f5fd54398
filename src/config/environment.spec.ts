import { parseEnvironment } from './environment';

describe('parseEnvironment', () => {
  it('defaults to the embedded servers, role all, port 3000', () => {
    expect(parseEnvironment({})).toEqual({
      mongoUrl: undefined,
      kafkaBrokers: [],
      redisUrls: [],
      role: 'all',
      port: 3000,
    });
  });

  it('reads the comma lists and prefers REDIS_URLS over REDIS_URL', () => {
    const env = parseEnvironment({
      MONGO_URL: 'mongodb://localhost:27017/?replicaSet=rs0',
      KAFKA_BROKERS: 'a:9092, b:9093',
      REDIS_URL: 'redis://one:6379',
      REDIS_URLS: 'redis://r1:6379,redis://r2:6379,redis://r3:6379',
      APP_ROLE: 'worker',
      PORT: '8080',
    });
    expect(env.kafkaBrokers).toEqual(['a:9092', 'b:9093']);
    expect(env.redisUrls).toEqual(['redis://r1:6379', 'redis://r2:6379', 'redis://r3:6379']);
    expect(env.role).toBe('worker');
    expect(env.port).toBe(8080);
  });

  it('still accepts APP_ROLE=listener as relay, warning that it is deprecated', () => {
    const warn = jest.fn();
    expect(parseEnvironment({ APP_ROLE: ' listener ' }, warn).role).toBe('relay');
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(/APP_ROLE=listener is deprecated.*APP_ROLE=relay/),
    );
    parseEnvironment({ APP_ROLE: 'relay' }, warn);
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('reads the optional lease and consumer-group timings', () => {
    expect(
      parseEnvironment({ LEASE_TTL_MS: '3000', KAFKA_SESSION_TIMEOUT_MS: '6000', WORKER_BATCH_SIZE: '1' }),
    ).toMatchObject({
      leaseTtlMs: 3000,
      kafkaSessionTimeoutMs: 6000,
      workerBatchSize: 1,
    });
  });

  it('reads RELAY_DELIVERY and WORKER_DEDUPE, leaving the library defaults when unset', () => {
    expect(parseEnvironment({ RELAY_DELIVERY: 'exactly-once', WORKER_DEDUPE: ' offsets ' })).toMatchObject({
      delivery: 'exactly-once',
      dedupe: 'offsets',
    });
    expect(parseEnvironment({})).not.toHaveProperty('delivery');
    expect(parseEnvironment({})).not.toHaveProperty('dedupe');
  });

  it.each(['fail', 'resnapshot'] as const)('reads ON_HISTORY_LOST=%s', (policy) => {
    expect(parseEnvironment({ ON_HISTORY_LOST: ` ${policy} ` }).onHistoryLost).toBe(policy);
    expect(parseEnvironment({}).onHistoryLost).toBeUndefined();
  });

  it('reads RELAY_MAX_PUBLISH_STALL_MS', () => {
    expect(parseEnvironment({ RELAY_MAX_PUBLISH_STALL_MS: '1500' }).maxPublishStallMs).toBe(1500);
    expect(parseEnvironment({})).not.toHaveProperty('maxPublishStallMs');
  });

  it.each([
    [{ ON_HISTORY_LOST: 'skip' }, /ON_HISTORY_LOST must be one of fail \| resnapshot; got "skip"/],
    [{ RELAY_DELIVERY: 'once' }, /RELAY_DELIVERY must be one of exactly-once \| at-least-once; got "once"/],
    [{ WORKER_DEDUPE: 'ids' }, /WORKER_DEDUPE must be one of markers \| offsets; got "ids"/],
    [{ APP_ROLE: 'leader' }, /APP_ROLE must be one of relay \| worker \| all; got "leader"/],
    [{ PORT: 'http' }, /PORT must be a TCP port number/],
    [{ PORT: '70000' }, /PORT must be a TCP port number/],
    [{ MONGO_URL: 'localhost:27017' }, /MONGO_URL must be a mongodb:\/\//],
    [{ KAFKA_BROKERS: 'kafka' }, /KAFKA_BROKERS must be a comma list of host:port; got "kafka"/],
    [{ KAFKA_BROKERS: ',' }, /KAFKA_BROKERS has an empty entry: got ","/],
    [{ KAFKA_BROKERS: 'k1:9092,,k2:9092' }, /KAFKA_BROKERS has an empty entry: got "k1:9092,,k2:9092"/],
    [{ REDIS_URLS: ' , ' }, /REDIS_URLS has an empty entry: got " , "/],
    [{ REDIS_URL: 'localhost:6379' }, /REDIS_URL\(S\) must be redis:\/\//],
    [{ LEASE_TTL_MS: '500' }, /LEASE_TTL_MS must be an integer from 1000 to 60000 \(ms\); got "500"/],
    [{ KAFKA_SESSION_TIMEOUT_MS: '6s' }, /KAFKA_SESSION_TIMEOUT_MS must be an integer from 6000 to 300000/],
    [{ WORKER_BATCH_SIZE: '0' }, /WORKER_BATCH_SIZE must be an integer from 1 to 10000; got "0"/],
    [
      { RELAY_MAX_PUBLISH_STALL_MS: '50' },
      /RELAY_MAX_PUBLISH_STALL_MS must be an integer from 100 to 3600000 \(ms\); got "50"/,
    ],
  ])('rejects %p with a message naming the variable', (env, message) => {
    expect(() => parseEnvironment(env)).toThrow(message);
  });
});
