/**
 * The read models of the orders service when `shop.orders` loses its history: the collection is
 * dropped (its orders go with it), or the relay's checkpoint falls out of the oplog and
 * ON_HISTORY_LOST=resnapshot republishes the orders (the deletes made meanwhile were never
 * published). MongoDB is the embedded stand-in here, because truncating the oplog is a fault only it
 * can inject; Kafka and Redis come from KAFKA_BROKERS / REDIS_URL when set.
 */
import type { INestApplication } from '@nestjs/common';
import { MongoClient, ObjectId } from 'mongodb';
import { createOrdersApp } from '../../src/bootstrap';
import { ORDERS_TOPIC } from '../../src/config/change-stream.config';
import { parseEnvironment, type ServiceEnvironment } from '../../src/config/environment';
import { resolveServers, type ResolvedServers } from '../../src/config/servers';
import { auditReadModels } from '../../src/orders/read-model-audit';
import { startMongoStandin, type MongoStandin } from '../../tools/mongo-standin';
import { waitFor } from '../support/wait';
import { OrdersClient, OrderWorkload, seededRandom } from './orders-client';

describe('orders service: read models after lost history (e2e)', () => {
  let mongo: MongoStandin;
  let client: MongoClient;
  let servers: ResolvedServers;
  let env: ServiceEnvironment;
  let app: INestApplication | undefined;
  const run = `hist${Date.now().toString(36)}-`;

  beforeAll(async () => {
    mongo = await startMongoStandin();
    client = await new MongoClient(mongo.url).connect();
    const base = parseEnvironment({
      ...process.env,
      MONGO_URL: mongo.url,
      APP_ROLE: 'all',
      PORT: '0',
      ON_HISTORY_LOST: 'resnapshot',
    });
    servers = await resolveServers(base, [ORDERS_TOPIC]);
    // The app sees every server as external, so closing it leaves them running for the next boot.
    env = {
      ...base,
      kafkaBrokers: servers.kafkaBrokers,
      redisUrls: servers.redisUrls,
      leaseTtlMs: 2_000,
      kafkaSessionTimeoutMs: base.kafkaSessionTimeoutMs ?? (servers.embedded.kafka ? 6_000 : undefined),
    };
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  afterAll(async () => {
    await client?.close();
    await servers?.stop();
    await mongo?.stop();
  });

  async function boot(): Promise<OrdersClient> {
    ({ app } = await createOrdersApp(env, process.env.E2E_LOGS ? undefined : ['error']));
    await app.listen(0, '127.0.0.1');
    return new OrdersClient([await app.getUrl()]);
  }

  const shop = () => client.db('shop');

  /** Waits until the read models of `prefix`'s customers match `shop.orders` exactly, with `orders` orders. */
  const inStep = (prefix: string, orders: number, what: string) =>
    waitFor(
      async () => {
        const audit = await auditReadModels(shop(), { customerPrefix: prefix });
        return audit.mismatches.length === 0 && audit.orders === orders && audit.views === orders;
      },
      { timeoutMs: 40_000, what },
    ).catch(async (error: Error) => {
      const audit = await auditReadModels(shop(), { customerPrefix: prefix });
      throw new Error(
        `${error.message}: ${JSON.stringify({ ...audit, mismatches: audit.mismatches.slice(0, 5) })}`,
      );
    });

  it('drops the views of the orders that went with a drop of shop.orders', async () => {
    const workload = new OrderWorkload(await boot(), seededRandom(3), { count: 4, prefix: `${run}d` });
    for (let i = 0; i < 20; i++) await workload.createOrder();
    await inStep(`${run}d`, 20, 'the views of 20 orders');

    await shop().collection('orders').drop();
    await inStep(`${run}d`, 0, 'no view left of the dropped orders');
    const stats = await shop()
      .collection<{ _id: string; orders?: number }>('customer_stats')
      .find({ _id: { $regex: `^${run}d` } })
      .toArray();
    expect(stats.every((s) => (s.orders ?? 0) === 0)).toBe(true);
  });

  it('after a resnapshot (ON_HISTORY_LOST=resnapshot), removes the views of orders deleted while history was lost', async () => {
    const workload = new OrderWorkload(await boot(), seededRandom(5), { count: 3, prefix: `${run}r` });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await workload.createOrder());
    await inStep(`${run}r`, 6, 'the views of 6 orders');
    await app!.close();
    app = undefined;

    // While no relay runs, two orders are deleted, and the oplog loses those deletes.
    await shop()
      .collection('orders')
      .deleteMany({ _id: { $in: ids.slice(0, 2).map((id) => new ObjectId(id)) } });
    mongo.truncateOplog();
    await boot();
    await inStep(`${run}r`, 4, 'the views of the 4 orders left');
  });
});
