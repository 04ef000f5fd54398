/**
 * A Kafka outage longer than the probes' windows of `k8s/deployment.yaml` restarts nothing and
 * takes no replica out of the Service: /health/live and /health/ready answer OK on every probe, and
 * the orders API takes writes, while /health goes DOWN with the publish stall (page someone) and UP
 * again once the broker is back. The probes run at the manifest's periods divided by SCALE, so the
 * outage covers more than `failureThreshold` consecutive probes of each in a few seconds.
 */
import type { INestApplication } from '@nestjs/common';
import { createOrdersApp } from '../../src/bootstrap';
import { ORDERS_TOPIC } from '../../src/config/change-stream.config';
import { parseEnvironment } from '../../src/config/environment';
import { useGround } from '../support/ground';
import { waitFor } from '../support/wait';
import { OrdersClient, OrderWorkload } from './orders-client';
import { manifestProbe, Prober, type ProbeAnswer } from './probes';

/** The manifest's probe periods are divided by this (10 s becomes 1 s). */
const SCALE = 10;
/** RELAY_MAX_PUBLISH_STALL_MS of the service: short, so /health goes DOWN early in the outage. */
const STALL_MS = 1_500;

interface HealthBody {
  status: 'ok' | 'error';
  error?: { changeStream?: { problems: string[] } };
  details: { changeStream: { leadership: string; worker: { state: string } | null } };
}

describe('probes during a Kafka outage (e2e)', () => {
  // A broker of this file's own: the test kills it.
  const ground = useGround({ kafka: { dedicated: true, topics: [ORDERS_TOPIC] }, redis: 1 });
  let app: INestApplication | undefined;
  let probers: Prober[] = [];

  afterAll(async () => {
    await Promise.all(probers.map((p) => p.stop()));
    await app?.close();
  });

  const health = async (url: string) => {
    const response = await fetch(`${url}/health`);
    return { code: response.status, body: (await response.json()) as HealthBody };
  };
  const failures = (answers: ProbeAnswer[]) => answers.filter((a) => !a.ok);

  it('keeps liveness and readiness OK on every probe while /health goes DOWN with the stall, then UP', async () => {
    const { mongoUrl, kafkaBrokers, redisUrls } = ground();
    const env = parseEnvironment({
      ...process.env,
      MONGO_URL: mongoUrl,
      KAFKA_BROKERS: kafkaBrokers.join(','),
      REDIS_URLS: redisUrls.join(','),
      APP_ROLE: 'all',
      PORT: '0',
      LEASE_TTL_MS: '2000',
      // NOTE: the test broker holds a rebalance for a session timeout; keep the short one it needs.
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      RELAY_MAX_PUBLISH_STALL_MS: String(STALL_MS),
    });
    ({ app } = await createOrdersApp(env, ['error']));
    await app.listen(0, '127.0.0.1');
    const url = await app.getUrl();
    await waitFor(
      async () => {
        const { code, body } = await health(url);
        const { leadership, worker } = body.details.changeStream;
        return code === 200 && leadership === 'leader' && worker?.state === 'running';
      },
      { timeoutMs: 60_000, what: 'a healthy leader whose worker joined its group' },
    );

    const liveness = manifestProbe('livenessProbe');
    const readiness = manifestProbe('readinessProbe');
    expect([liveness.path, readiness.path]).toEqual(['/health/live', '/health/ready']);
    probers = [new Prober(url, liveness, SCALE), new Prober(url, readiness, SCALE)];
    /** More consecutive probes than the kubelet needs to act, on each. */
    const outlasted = (since: number) =>
      probers.every((p) => p.since(since).length > p.probe.failureThreshold);

    const kafka = ground().kafka!;
    const outageStart = Date.now();
    await kafka.kill(1);
    try {
      // The API needs no Kafka: a write made during the outage is taken, and waits to be published.
      await new OrderWorkload(new OrdersClient([url])).createOrder('probes-outage');
      const down = await waitFor(
        async () => {
          const h = await health(url);
          return h.code === 503 ? h.body : null;
        },
        { timeoutMs: 30_000, what: '/health DOWN while the broker is down' },
      );
      expect(down.error?.changeStream?.problems).toEqual(
        expect.arrayContaining([expect.stringMatching(/^stream "shop.orders": publish stalled since /)]),
      );
      await waitFor(() => outlasted(outageStart), {
        timeoutMs: 60_000,
        what: `more than failureThreshold probes of each during the outage`,
      });
    } finally {
      await kafka.restart(1);
    }
    const outage = probers.map((p) => p.since(outageStart).length);

    await waitFor(async () => (await health(url)).code === 200, {
      timeoutMs: 90_000,
      what: '/health UP once the broker is back',
    });
    const [live, ready] = await Promise.all(probers.map((p) => p.stop()));
    probers = [];
    expect(failures(live)).toEqual([]);
    expect(failures(ready)).toEqual([]);
    expect(outage[0]).toBeGreaterThan(liveness.failureThreshold);
    expect(outage[1]).toBeGreaterThan(readiness.failureThreshold);
  }, 240_000);
});
