import { groundFromEnv } from './ground';

describe('groundFromEnv', () => {
  it('takes real servers from MONGO_URL, KAFKA_BROKERS and REDIS_URLS', () => {
    expect(
      groundFromEnv({
        MONGO_URL: 'mongodb://m/?replicaSet=rs0',
        KAFKA_BROKERS: 'k1:9092,k2:9092',
        REDIS_URLS: 'redis://a,redis://b',
      }),
    ).toEqual({
      mongoUrl: 'mongodb://m/?replicaSet=rs0',
      kafkaBrokers: ['k1:9092', 'k2:9092'],
      redisUrls: ['redis://a', 'redis://b'],
    });
  });

  it('means the stand-ins when nothing is set', () => {
    expect(groundFromEnv({})).toEqual({ mongoUrl: undefined, kafkaBrokers: [], redisUrls: [] });
  });
});
