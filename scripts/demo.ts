/**
 * `npm run demo`: the whole job in one command. Starts the servers once (embedded: the MongoDB stand-in, Apache Kafka, Redis; or
 * MONGO_URL / KAFKA_BROKERS / REDIS_URL(S) when set), three replicas of the orders service as
 * separate processes (APP_ROLE=all), writes a stream of orders and status changes through the API,
 * SIGKILLs the leader midway, and prints who led, when the failover happened and how long it took,
 * the events published and handled, and a final exact check of the read models against the orders
 * collection. Exits 1 when they differ.
 *
 * Env: DEMO_WRITES (default 200, half before the kill), LEASE_TTL_MS (default here 3000: failover
 * takes about one lease TTL after a SIGKILL), KAFKA_SESSION_TIMEOUT_MS (6000 on the embedded Kafka). Replica logs go to a temporary directory (printed).
 */
import 'reflect-metadata';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { parseEnvironment } from '../src/config/environment';
import { ORDERS_TOPIC } from '../src/config/change-stream.config';
import { resolveServers } from '../src/config/servers';
import { SHOP_DB } from '../src/orders/order.schema';
import { auditReadModels } from '../src/orders/read-model-audit';
import { OrdersClient, OrderWorkload, seededRandom } from '../test/e2e/orders-client';
import { leaderOf, startReplica, type Replica } from '../test/support/replicas';
import { waitFor } from '../test/support/wait';

const WRITES = Number(process.env.DEMO_WRITES ?? 200);
const LEASE_TTL_MS = process.env.LEASE_TTL_MS ?? '3000';
const REPLICAS = 3;

const PUBLISHED = 'change_stream_events_published_total{stream="shop.orders"}';
const HANDLED = 'change_stream_worker_messages_total{group="orders-read-models"}';
const time = (ms: number) => new Date(ms).toISOString().slice(11, 23);
const say = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<number> {
  const env = parseEnvironment();
  const servers = await resolveServers(env, [ORDERS_TOPIC]);
  const replicas: Replica[] = [];
  const mongo = new MongoClient(servers.mongoUrl);
  try {
    const logDir = mkdtempSync(join(tmpdir(), 'orders-demo-'));
    const childEnv = {
      ...process.env,
      MONGO_URL: servers.mongoUrl,
      KAFKA_BROKERS: servers.kafkaBrokers.join(','),
      REDIS_URLS: servers.redisUrls.join(','),
      LEASE_TTL_MS,
      // NOTE: the replicas see KAFKA_BROKERS set; give them the demo's short group timings on the embedded Kafka.
      ...(servers.embedded.kafka && !process.env.KAFKA_SESSION_TIMEOUT_MS
        ? { KAFKA_SESSION_TIMEOUT_MS: '6000' }
        : {}),
    };
    const kafka = servers.kafkaVersion
      ? `Apache Kafka ${servers.kafkaVersion} (embedded)`
      : 'Kafka (external)';
    say(
      `servers: MongoDB ${servers.mongoUrl}, ${kafka} ${servers.kafkaBrokers.join(',')}, Redis ${servers.redisUrls.join(',')}`,
    );
    say(`starting ${REPLICAS} replicas (APP_ROLE=all, lease TTL ${LEASE_TTL_MS} ms); logs in ${logDir}`);
    for (let i = 0; i < REPLICAS; i++)
      replicas.push(await startReplica(`replica-${i + 1}`, childEnv, logDir));
    await waitFor(
      async () => {
        const health = await Promise.all(replicas.map((r) => r.health()));
        return health.every(
          (h) => h?.status === 'ok' && (h.details?.changeStream?.worker?.assignedPartitions ?? 0) > 0,
        );
      },
      { timeoutMs: 90_000, intervalMs: 200, what: 'every replica to be UP with partitions assigned' },
    );
    say(`${time(Date.now())} ${replicas.map((r) => `${r.name} (port ${r.port})`).join(', ')} are UP`);
    const first = await waitFor(() => leaderOf(replicas), {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: 'a leader',
    });
    say(
      `${time(Date.now())} ${first.replica.name} (port ${first.replica.port}) leads shop.orders with epoch ${first.epoch}`,
    );

    // NOTE: clients write through the other replicas, so no write is in flight on the one to be killed.
    const others = replicas.filter((r) => r !== first.replica);
    const client = new OrdersClient(others.map((r) => r.url));
    const workload = new OrderWorkload(client, seededRandom(Date.now() % 1_000_000), {
      prefix: `demo${Date.now().toString(36)}-`,
      count: 8,
    });
    const half = Math.floor(WRITES / 2);
    for (let i = 0; i < half; i++) await workload.step();
    say(`${time(Date.now())} ${half} writes done through ${others.map((r) => r.name).join(' and ')}`);

    const publishedByOldLeader = await first.replica.metric(PUBLISHED);
    const handledByOldLeader = await first.replica.metric(HANDLED);
    const killedAt = Date.now();
    await first.replica.kill('SIGKILL');
    say(
      `${time(killedAt)} SIGKILL ${first.replica.name} (it had published ${publishedByOldLeader} events, handled ${handledByOldLeader})`,
    );

    const failover = waitFor(
      async () => {
        const next = await leaderOf(others);
        return next && next.epoch > first.epoch ? { ...next, at: Date.now() } : null;
      },
      { timeoutMs: 120_000, intervalMs: 50, what: 'a new leader' },
    );
    for (let i = half; i < WRITES; i++) await workload.step();
    say(`${time(Date.now())} ${WRITES - half} more writes done while failing over`);
    const second = await failover;
    say(
      `${time(second.at)} ${second.replica.name} (port ${second.replica.port}) took over with epoch ${second.epoch}: failover in ${second.at - killedAt} ms`,
    );

    const db = mongo.db(SHOP_DB);
    const audit = () =>
      auditReadModels(db, { transitions: workload.transitions, customerPrefix: workload.customerPrefix });
    const caughtUp = await waitFor(async () => ((await audit()).mismatches.length === 0 ? true : null), {
      timeoutMs: 120_000,
      intervalMs: 250,
      what: 'the read models to match the orders collection',
    }).catch(() => false);
    const result = await audit();

    const published =
      publishedByOldLeader +
      (await Promise.all(others.map((r) => r.metric(PUBLISHED)))).reduce((a, b) => a + b, 0);
    const handled =
      handledByOldLeader +
      (await Promise.all(others.map((r) => r.metric(HANDLED)))).reduce((a, b) => a + b, 0);
    const events = workload.counts.created + workload.counts.statusChanges + workload.counts.deleted;
    say('');
    say(
      `writes:    ${workload.counts.created} orders created, ${workload.counts.statusChanges} status changes, ${workload.counts.deleted} deleted (${events} change events)`,
    );
    say(
      `published: ${published} events to Kafka (at least once: a new leader republishes what the old one had not checkpointed)`,
    );
    say(
      `handled:   ${handled} messages completed by the workers (a message redelivered after a crash or a rebalance counts again; the processed-event marker keeps each effect single)`,
    );
    say(
      `read models: ${result.orders} orders, ${result.views} order_views, ${result.customers} customers in customer_stats`,
    );
    if (caughtUp && result.mismatches.length === 0) {
      say('CHECK PASSED: order_views and customer_stats match the orders collection exactly');
      return 0;
    }
    say(
      `CHECK FAILED: ${result.mismatches.length} mismatch(es):\n  ${result.mismatches.slice(0, 20).join('\n  ')}`,
    );
    return 1;
  } finally {
    await Promise.all(replicas.map((r) => r.kill('SIGTERM')));
    await mongo.close().catch(() => undefined);
    await servers.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
