import { resolveServers } from './servers';
import type { ServiceEnvironment } from './environment';

// The dev tooling must not load when every server is named: a production build (`npm run build`,
// `npm start`) does not ship tools/.
jest.mock('../../tools/dev-servers/servers', () => {
  throw new Error('tools/dev-servers was loaded');
});

const named: ServiceEnvironment = {
  mongoUrl: 'mongodb://user:secret@db.example:27017/?replicaSet=rs0',
  kafkaBrokers: ['kafka-1.example:9092', 'kafka-2.example:9092'],
  redisUrls: ['redis://redis.example:6379'],
  role: 'all',
  port: 3000,
};

describe('resolveServers', () => {
  it('uses the servers the environment names without loading the dev tooling', async () => {
    const logger = { log: jest.fn() };
    const servers = await resolveServers(named, [], logger as never);
    expect(servers).toMatchObject({
      mongoUrl: named.mongoUrl,
      kafkaBrokers: named.kafkaBrokers,
      redisUrls: named.redisUrls,
      embedded: { mongo: false, kafka: false, redis: false },
    });
    await servers.stop();
    const logged = logger.log.mock.calls.map(([line]) => String(line)).join('\n');
    expect(logged).toContain('MongoDB: external');
    expect(logged).not.toContain('secret');
  });
});
