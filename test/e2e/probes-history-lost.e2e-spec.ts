/**
 * A replica whose stream was stopped by the history-lost policy (`onHistoryLost: 'fail'`) stays
 * live (no restart would bring the history back), is not ready when its role needs the stream
 * (APP_ROLE=relay), stays ready when it serves the API (APP_ROLE=all), and names the reason on
 * /health. MongoDB is always the embedded stand-in here: truncating the oplog is a fault only it
 * can inject (mongod drops the oldest oplog entries when the capped oplog fills; a resume token
 * older than the oldest entry then fails with ChangeStreamHistoryLost, 286).
 */
import type { INestApplication } from '@nestjs/common';
import { createOrdersApp } from '../../src/bootstrap';
import { ORDERS_TOPIC } from '../../src/config/change-stream.config';
import { parseEnvironment, type AppRole } from '../../src/config/environment';
import { startMongoStandin, type MongoStandin } from '../../tools/mongo-standin';
import { useGround } from '../support/ground';
import { waitFor } from '../support/wait';
import { loseOrdersHistory } from './history-loss';

interface Answer {
  code: number;
  body: { status: string; error?: Record<string, { problems?: string[] }>; details: Record<string, unknown> };
}

describe('probes of a replica stopped by the history-lost policy (e2e)', () => {
  const ground = useGround({ mongo: false, kafka: { topics: [ORDERS_TOPIC] }, redis: 1 });
  let mongo: MongoStandin;
  let app: INestApplication | undefined;

  beforeAll(async () => {
    mongo = await startMongoStandin();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  afterAll(async () => {
    await mongo?.stop();
  });

  async function boot(role: AppRole): Promise<string> {
    const { kafkaBrokers, redisUrls } = ground();
    const env = parseEnvironment({
      ...process.env,
      MONGO_URL: mongo.url,
      KAFKA_BROKERS: kafkaBrokers.join(','),
      REDIS_URLS: redisUrls.join(','),
      APP_ROLE: role,
      PORT: '0',
      LEASE_TTL_MS: '2000',
      KAFKA_SESSION_TIMEOUT_MS: '6000',
    });
    ({ app } = await createOrdersApp(env, ['error']));
    await app.listen(0, '127.0.0.1');
    return app.getUrl();
  }
  const get = async (url: string, path: string): Promise<Answer> => {
    const response = await fetch(`${url}${path}`);
    return { code: response.status, body: (await response.json()) as Answer['body'] };
  };
  const stoppedByPolicy = (url: string) =>
    waitFor(
      async () => {
        const h = await get(url, '/health');
        return h.code === 503 ? h : null;
      },
      { timeoutMs: 30_000, what: '/health DOWN' },
    );
  const HISTORY_LOST = /^stream "shop.orders" stopped: .*(ChangeStreamHistoryLost|286)/;

  /** A checkpoint with a resume token, then a write no relay sees, then that write out of the oplog. */
  async function loseHistory(): Promise<void> {
    const url = await boot('relay');
    await waitFor(async () => (await get(url, '/health')).body.details.changeStream, { what: 'health' });
    await loseOrdersHistory(
      mongo,
      url,
      async () => {
        await app!.close();
        app = undefined;
      },
      'probes-history',
    );
  }

  it('a relay replica stays live, is not ready, and /health names the reason', async () => {
    await loseHistory();
    const url = await boot('relay');
    const health = await stoppedByPolicy(url);
    expect(health.body.error?.changeStream?.problems?.[0]).toMatch(HISTORY_LOST);

    expect((await get(url, '/health/live')).code).toBe(200);
    const ready = await get(url, '/health/ready');
    expect(ready.code).toBe(503);
    expect(ready.body.error?.changeStream?.problems).toEqual([expect.stringMatching(HISTORY_LOST)]);
    // MongoDB itself is fine: only the stream keeps this replica out.
    expect(ready.body.details.mongodb).toEqual({ status: 'up' });
  }, 120_000);

  it('a replica that also serves the API (APP_ROLE=all) stays live and ready, with the reason on /health', async () => {
    await loseHistory();
    const url = await boot('all');
    const health = await stoppedByPolicy(url);
    expect(health.body.error?.changeStream?.problems?.[0]).toMatch(HISTORY_LOST);

    expect((await get(url, '/health/live')).code).toBe(200);
    expect((await get(url, '/health/ready')).code).toBe(200);
  }, 120_000);
});
