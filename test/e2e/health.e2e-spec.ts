/**
 * GET /health of the orders service goes DOWN when the relay is stopped by its policy: the
 * checkpoint fell out of the oplog (history lost, `onHistoryLost: 'fail'`). MongoDB is always the
 * embedded stand-in here, because truncating the oplog is a fault only it can inject; Kafka and
 * Redis come from KAFKA_BROKERS / REDIS_URL when set.
 */
import type { INestApplication } from '@nestjs/common';
import { createOrdersApp } from '../../src/bootstrap';
import { parseEnvironment, type ServiceEnvironment } from '../../src/config/environment';
import { ORDERS_TOPIC } from '../../src/config/change-stream.config';
import { resolveServers, type ResolvedServers } from '../../src/config/servers';
import { startMongoStandin, type MongoStandin } from '../../tools/mongo-standin';
import { waitFor } from '../support/wait';
import { loseOrdersHistory } from './history-loss';

interface HealthBody {
  status: string;
  error?: {
    changeStream?: { problems: string[]; streams: Array<{ role: string; stoppedReason: string | null }> };
  };
  details: { changeStream: { status: string; leadership: string } };
}

describe('GET /health (e2e)', () => {
  let mongo: MongoStandin;
  let servers: ResolvedServers;
  let env: ServiceEnvironment;
  let app: INestApplication | undefined;

  beforeAll(async () => {
    mongo = await startMongoStandin();
    const base = parseEnvironment({ ...process.env, MONGO_URL: mongo.url, APP_ROLE: 'all', PORT: '0' });
    servers = await resolveServers(base, [ORDERS_TOPIC]);
    // The app sees every server as external, so closing it leaves them running for the next boot.
    env = {
      ...base,
      kafkaBrokers: servers.kafkaBrokers,
      redisUrls: servers.redisUrls,
      leaseTtlMs: 2_000,
      // NOTE: the embedded Kafka holds a rebalance for a session timeout; keep the short one it needs.
      kafkaSessionTimeoutMs: base.kafkaSessionTimeoutMs ?? (servers.embedded.kafka ? 6_000 : undefined),
    };
  });

  afterAll(async () => {
    await app?.close();
    await servers?.stop();
    await mongo?.stop();
  });

  async function boot(): Promise<string> {
    ({ app } = await createOrdersApp(env, ['error']));
    await app.listen(0, '127.0.0.1');
    return app.getUrl();
  }

  const health = async (url: string) => {
    const response = await fetch(`${url}/health`);
    return { code: response.status, body: (await response.json()) as HealthBody };
  };

  it('is UP while leading, and DOWN with the reason once history was lost', async () => {
    let url = await boot();
    const up = await waitFor(
      async () => {
        const h = await health(url);
        return h.body.details.changeStream.leadership === 'leader' ? h : null;
      },
      { what: 'this replica to lead' },
    );
    expect(up.code).toBe(200);

    // A checkpoint exists once an event was published; then the service stops.
    await loseOrdersHistory(
      mongo,
      url,
      async () => {
        await app!.close();
        app = undefined;
      },
      'health-1',
    );

    url = await boot();
    const down = await waitFor(
      async () => {
        const h = await health(url);
        return h.code === 503 ? h : null;
      },
      { timeoutMs: 20_000, what: '/health to answer 503' },
    );
    expect(down.body.status).toBe('error');
    expect(down.body.error?.changeStream?.streams[0]).toMatchObject({ role: 'stopped' });
    expect(down.body.error?.changeStream?.problems[0]).toMatch(
      /^stream "shop.orders" stopped: .*(ChangeStreamHistoryLost|286)/,
    );
  });
});
