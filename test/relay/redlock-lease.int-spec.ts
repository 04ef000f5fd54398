import Redis from 'ioredis';
import Redlock from 'redlock';
import { RedlockLease } from '../../libs/change-stream/src/leader/redlock.lease';
import { startRedis, stopRedis, type RedisInstance } from '../support/redis';
import { uniqueName } from '../support/ground';

/** Redlock leases over three real redis-server processes. */
describe('RedlockLease (3 Redis servers)', () => {
  let servers: RedisInstance[] = [];
  let clients: Redis[] = [];
  let redlock: Redlock;

  beforeAll(async () => {
    servers = await startRedis(3);
    clients = servers.map((s) => {
      const client = new Redis(s.url, {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => 50,
      });
      client.on('error', () => undefined);
      return client;
    });
    redlock = new Redlock(clients, { retryCount: 0 });
  });
  afterAll(async () => {
    clients.forEach((c) => c.disconnect());
    await stopRedis(servers);
  });
  afterEach(async () => {
    for (const s of servers) if (!s.running) await s.start();
  });

  it('has one holder at a time; a release lets another replica take it at once', async () => {
    const name = uniqueName('lease');
    const a = new RedlockLease(redlock, name, 2_000);
    const b = new RedlockLease(redlock, name, 2_000);
    expect(await a.acquire()).toBe(true);
    await expect(b.acquire()).rejects.toThrow(/quorum/);
    expect(b.validUntil).toBe(0);
    expect(a.validUntil).toBeGreaterThan(Date.now());
    expect(await a.renew()).toBe(true);
    await a.release();
    expect(a.validUntil).toBe(0);
    expect(await b.acquire()).toBe(true);
    await b.release();
  });

  it('keeps working with one of three servers down, and fails fast (no hang) without a majority', async () => {
    const name = uniqueName('lease');
    const lease = new RedlockLease(redlock, name, 2_000);
    await servers[0].stop(true);
    expect(await lease.acquire()).toBe(true);
    expect(await lease.renew()).toBe(true);
    await servers[1].stop(true);
    await expect(lease.renew()).rejects.toThrow();
    expect(lease.validUntil).toBe(0);
  });

  it('rejects extending an already-expired lock (the elector reads it as lost)', async () => {
    jest.useFakeTimers({
      doNotFake: ['nextTick', 'setImmediate', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'],
    });
    try {
      const lease = new RedlockLease(redlock, uniqueName('lease'), 1_000);
      expect(await lease.acquire()).toBe(true);
      jest.setSystemTime(Date.now() + 5_000);
      await expect(lease.renew()).rejects.toThrow(/already-expired/);
      expect(lease.validUntil).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });
});
