import Redis from 'ioredis';
import { startRedis, stopRedis, type RedisInstance } from './redis';
import { waitFor } from './wait';

describe('Redis ground: three independent redis-server instances', () => {
  let instances: RedisInstance[] = [];
  let clients: Redis[] = [];

  beforeAll(async () => {
    instances = await startRedis(3);
    clients = instances.map(
      (instance) => new Redis(instance.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 }),
    );
  });

  afterAll(async () => {
    clients.forEach((client) => client.disconnect());
    await stopRedis(instances);
  });

  it('serves three distinct ports', () => {
    expect(new Set(instances.map((instance) => instance.port)).size).toBe(3);
  });

  it('keeps each instance independent (a key set on one is absent on the others)', async () => {
    await clients[0].set('lease', 'replica-a', 'PX', 10_000, 'NX');
    expect(await clients[0].get('lease')).toBe('replica-a');
    expect(await clients[1].get('lease')).toBeNull();
    expect(await clients[2].get('lease')).toBeNull();
  });

  it('a restarted instance comes back empty and ioredis reconnects to it', async () => {
    await clients[2].set('k', 'v');
    await instances[2].stop();
    expect(instances[2].running).toBe(false);
    await instances[2].start();
    await waitFor(async () => (await clients[2].ping()) === 'PONG', {
      what: 'ioredis to reconnect',
      timeoutMs: 5000,
    });
    expect(await clients[2].get('k')).toBeNull();
  });
});
