/**
 * The orders service end to end, on the embedded servers (or MONGO_URL / KAFKA_BROKERS /
 * REDIS_URL when set): orders written through the HTTP API reach the read models through the
 * change stream, Kafka and the @ChangeHandler, exactly once.
 */
import type { INestApplication } from '@nestjs/common';
import { getConnectionToken } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { createOrdersApp } from '../../src/bootstrap';
import { parseEnvironment } from '../../src/config/environment';
import { auditReadModels, type ReadModelAudit } from '../../src/orders/read-model-audit';
import { waitFor } from '../support/wait';
import { HttpError, OrdersClient, OrderWorkload, seededRandom } from './orders-client';

describe('orders service (e2e)', () => {
  let app: INestApplication | undefined;
  let client: OrdersClient;
  let connection: Connection;
  // NOTE: customer ids unique to this run, so the check is exact on shared real servers too.
  const run = `e2e${Date.now().toString(36)}-`;

  beforeAll(async () => {
    const env = parseEnvironment({ ...process.env, APP_ROLE: 'all', PORT: '0' });
    ({ app } = await createOrdersApp(env, ['error', 'warn']));
    await app.listen(0, '127.0.0.1');
    client = new OrdersClient([await app.getUrl()]);
    connection = app.get<Connection>(getConnectionToken());
  });

  afterAll(async () => {
    await app?.close();
  });

  const audit = (workload: OrderWorkload): Promise<ReadModelAudit> =>
    auditReadModels(connection.db!, { transitions: workload.transitions, customerPrefix: run });

  it('keeps order_views and customer_stats exactly in step with the orders', async () => {
    const workload = new OrderWorkload(client, seededRandom(7));
    const customer = (n: number) => `${run}${n}`;
    const ids = [];
    for (let i = 0; i < 6; i++) ids.push(await workload.createOrder(customer(i % 3)));
    await workload.changeStatus(ids[0], 'paid');
    await workload.changeStatus(ids[0], 'shipped');
    await workload.changeStatus(ids[0], 'delivered');
    await workload.changeStatus(ids[1], 'cancelled');
    await workload.changeStatus(ids[2], 'paid');
    await workload.deleteOrder(ids[3]);

    const result = await waitFor(
      async () => {
        const current = await audit(workload);
        return current.mismatches.length === 0 && current.orders === 5 ? current : null;
      },
      { timeoutMs: 30_000, what: 'the read models to match the orders collection' },
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}\n${(await audit(workload)).mismatches.join('\n')}`);
    });
    expect(result).toMatchObject({ orders: 5, views: 5, customers: 3 });

    const stats = await client.request<Record<string, unknown>>('GET', `/customers/${customer(0)}/stats`);
    // customer 0 had orders 0 and 3; 3 was deleted.
    expect(stats).toMatchObject({
      orders: 1,
      transitions: { created_to_paid: 1, paid_to_shipped: 1, shipped_to_delivered: 1 },
    });
    const view = await client.request<Record<string, unknown>>('GET', `/orders/${ids[0]}/view`);
    expect(view).toMatchObject({ status: 'delivered', customerId: customer(0) });
  });

  it('reports health and metrics of the relay and the worker', async () => {
    const health = await client.request<{
      status: string;
      details: { changeStream: Record<string, unknown> };
    }>('GET', '/health');
    expect(health.status).toBe('ok');
    expect(health.details.changeStream).toMatchObject({
      status: 'up',
      roles: { relay: true, worker: true },
      worker: { state: 'running', groupId: 'orders-read-models' },
      streams: [{ name: 'shop.orders', stoppedReason: null }],
    });
    expect(['leader', 'standby']).toContain(health.details.changeStream.leadership);

    const response = await fetch(`${client.baseUrls[0]}/metrics`);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    const value = (series: string) =>
      Number(new RegExp(`^${series.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    // The first test made 12 writes, each handled here (one worker in the group).
    expect(
      value('change_stream_handler_events_total{handler="orders.read-models",outcome="success"}'),
    ).toBeGreaterThanOrEqual(12);
    for (const name of [
      'events_published_total',
      'leader',
      'epoch',
      'checkpoint_lag_seconds',
      'last_read_age_seconds',
      'handler_duration_seconds_count',
      'worker_running',
    ]) {
      expect(text).toMatch(new RegExp(`^change_stream_${name}[{ ]`, 'm'));
    }
  });

  it('answers bad input with 400 naming the field, and refused transitions with 409', async () => {
    const badBody = client.request('POST', '/orders', {
      customerId: `${run}x`,
      items: [{ sku: 'a', quantity: 0, price: '1' }],
    });
    await expect(badBody).rejects.toMatchObject({
      status: 400,
      body: { message: ['items[0].quantity must be an integer from 1 to 10000'] },
    });
    await expect(client.request('PATCH', '/orders/nope/status', { status: 'paid' })).rejects.toMatchObject({
      status: 400,
    });

    const workload = new OrderWorkload(client);
    const id = await workload.createOrder(`${run}y`);
    const refused = client.request('PATCH', `/orders/${id}/status`, { status: 'delivered' });
    await expect(refused).rejects.toBeInstanceOf(HttpError);
    await expect(refused).rejects.toMatchObject({ status: 409 });
  });
});
