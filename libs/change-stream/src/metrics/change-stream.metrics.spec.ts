import type { CallHandler, ExecutionContext } from '@nestjs/common';
import { Registry } from 'prom-client';
import { lastValueFrom, of, throwError } from 'rxjs';
import { ChangeBatchContext, ChangeContext } from '../handlers/change-context';
import type { ChangeStreamInspector, ChangeStreamReport } from '../health/change-stream.inspector';
import { newStreamStatus, type StreamStatus } from '../health/stream-status';
import { ChangeHandlerMetricsInterceptor } from './change-handler-metrics.interceptor';
import { ChangeStreamMetrics } from './change-stream.metrics';

const AT = new Date('2026-01-01T00:01:00Z');

function leaderStream(overrides: Partial<StreamStatus> = {}): StreamStatus {
  return {
    ...newStreamStatus('shop.orders'),
    role: 'leader',
    leaseValidUntil: AT.getTime() + 2_500,
    epoch: 4,
    lastReadAt: new Date(AT.getTime() - 500),
    inFlightEvents: 2,
    inFlightBytes: 100,
    eventsRead: 12,
    eventsPublished: 10,
    batchesPublished: 2,
    lastBatchSize: 4,
    checkpointsWritten: 3,
    leaderTerms: 1,
    ...overrides,
  };
}

function setup(oplog: ChangeStreamReport['oplog'] = { first: new Date(AT.getTime() - 60_000), last: AT }) {
  let stream = leaderStream();
  const inspector = {
    inspect: async (): Promise<ChangeStreamReport> => ({
      at: AT,
      relay: { enabled: true, instanceId: 'i', healthy: true, streams: [stream] },
      worker: {
        state: 'running',
        groupId: 'g',
        topics: ['t'],
        assignment: { t: [0, 1, 2] },
        completedMessages: 840,
        sharedMessages: 420,
        sharedFallBacks: 2,
        deadLetters: [
          { reason: 'undecodable', handler: '', count: 4 },
          { reason: 'handler-failed', handler: 'orders.read-models', count: 1 },
        ],
        restart: null,
        restarts: 3,
      },
      checkpoints: [
        {
          stream: 'shop.orders',
          epoch: 4,
          leader: 'i',
          eventTime: new Date(AT.getTime() - 6_000),
          savedAt: new Date(AT.getTime() - 1_000),
        },
      ],
      oplog,
    }),
  } as unknown as ChangeStreamInspector;
  const registry = new Registry();
  const metrics = new ChangeStreamMetrics(inspector, { registry });
  const value = async (series: string): Promise<number> => {
    const line = (await metrics.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
    if (!line) throw new Error(`no series ${series}`);
    return Number(line.slice(series.length + 1));
  };
  return { metrics, value, setStream: (s: Partial<StreamStatus>) => (stream = leaderStream(s)) };
}

describe('ChangeStreamMetrics: leadership, lag and worker series', () => {
  it('reports leadership, epoch, lease, both lags and the oplog window', async () => {
    const { value } = setup();
    const s = '{stream="shop.orders"}';
    expect(await value(`change_stream_leader${s}`)).toBe(1);
    expect(await value(`change_stream_epoch${s}`)).toBe(4);
    expect(await value(`change_stream_lease_valid_seconds${s}`)).toBe(2.5);
    expect(await value(`change_stream_checkpoint_lag_seconds${s}`)).toBe(6);
    expect(await value(`change_stream_last_read_age_seconds${s}`)).toBe(0.5);
    expect(await value(`change_stream_checkpoint_age_seconds${s}`)).toBe(1);
    expect(await value('change_stream_oplog_window_seconds')).toBe(60);
    expect(await value(`change_stream_lag_oplog_window_ratio${s}`)).toBe(0.1);
    expect(await value('change_stream_worker_assigned_partitions{group="g"}')).toBe(3);
  });

  it("counts the worker's messages, its shared transactions' messages, and fall-backs", async () => {
    const { value } = setup();
    expect(await value('change_stream_worker_messages_total{group="g"}')).toBe(840);
    expect(await value('change_stream_worker_shared_messages_total{group="g"}')).toBe(420);
    expect(await value('change_stream_worker_shared_fallbacks_total{group="g"}')).toBe(2);
  });

  it('counts the consumers recreated after kafkajs gave up, and the relay terms that failed and campaigned again', async () => {
    const { value, setStream } = setup();
    expect(await value('change_stream_worker_restarts_total{group="g"}')).toBe(3);
    setStream({ restarts: 2 });
    expect(await value('change_stream_relay_restarts_total{stream="shop.orders"}')).toBe(2);
  });

  it('counts every dead letter the worker stored, by reason and handler, undecodable ones included', async () => {
    const { value } = setup();
    expect(await value('change_stream_dead_letters_total{reason="undecodable",handler=""}')).toBe(4);
    expect(
      await value('change_stream_dead_letters_total{reason="handler-failed",handler="orders.read-models"}'),
    ).toBe(1);
  });
});

describe('ChangeStreamMetrics: relay counters, publish stalls and the oplog', () => {
  it('turns the library counters into Prometheus counters that only grow', async () => {
    const { value, setStream } = setup();
    expect(await value('change_stream_events_published_total{stream="shop.orders"}')).toBe(10);
    expect(await value('change_stream_events_read_total{stream="shop.orders"}')).toBe(12);
    setStream({
      eventsRead: 25,
      eventsPublished: 25,
      batchesPublished: 5,
      lastBatchSize: 3,
      inFlightEvents: 0,
      leaderTerms: 2,
    });
    expect(await value('change_stream_events_published_total{stream="shop.orders"}')).toBe(25);
    expect(await value('change_stream_events_read_total{stream="shop.orders"}')).toBe(25);
    expect(await value('change_stream_leadership_changes_total{stream="shop.orders"}')).toBe(2);
    expect(await value('change_stream_publish_batches_total{stream="shop.orders"}')).toBe(5);
    expect(await value('change_stream_publish_batch_size{stream="shop.orders"}')).toBe(3);
  });

  it('reports the consecutive publish failures of a leader, and 0 once it no longer leads', async () => {
    const { value, setStream } = setup();
    const series = 'change_stream_publish_consecutive_failures{stream="shop.orders"}';
    expect(await value(series)).toBe(0);
    setStream({ consecutivePublishFailures: 6, publishWaitingSince: new Date(AT.getTime() - 20_000) });
    expect(await value(series)).toBe(6);
    setStream({ role: 'standby', consecutivePublishFailures: 6 });
    expect(await value(series)).toBe(0);
  });

  it("reports how long a leader's send and its oldest unchecked event have waited (the /health stall figures), 0 when nothing waits", async () => {
    const { value, setStream } = setup();
    const stalled = 'change_stream_publish_stalled_seconds{stream="shop.orders"}';
    const pending = 'change_stream_checkpoint_pending_seconds{stream="shop.orders"}';
    expect([await value(stalled), await value(pending)]).toEqual([0, 0]);
    setStream({
      publishWaitingSince: new Date(AT.getTime() - 20_000),
      checkpointPendingSince: new Date(AT.getTime() - 21_500),
    });
    expect([await value(stalled), await value(pending)]).toEqual([20, 21.5]);
    setStream({ role: 'standby', publishWaitingSince: new Date(AT.getTime() - 20_000) });
    expect([await value(stalled), await value(pending)]).toEqual([0, 0]);
  });

  it('says NaN, not 0, for an unreadable oplog', async () => {
    const { value } = setup(null);
    expect(await value('change_stream_oplog_window_seconds')).toBeNaN();
  });
});

describe('ChangeHandlerMetricsInterceptor', () => {
  const ctx = (attempt: number) =>
    new ChangeContext({
      eventId: 'e',
      handlerId: 'orders.read-models',
      idempotencyKey: 'k',
      topic: 't',
      partition: 0,
      offset: '1',
      epoch: 1,
      attempt,
      maxAttempts: 3,
      session: {} as never,
      transactional: true,
      key: undefined,
      headers: {},
    });
  const rpc = (context: unknown) =>
    ({
      getType: () => 'rpc',
      switchToRpc: () => ({ getContext: () => context }),
    }) as unknown as ExecutionContext;

  it('counts successes and failures (dead letters are counted where they are stored)', async () => {
    const { metrics, value } = setup();
    const interceptor = new ChangeHandlerMetricsInterceptor(metrics);
    const ok: CallHandler = { handle: () => of(undefined) };
    const failing: CallHandler = { handle: () => throwError(() => new Error('boom')) };
    await lastValueFrom(interceptor.intercept(rpc(ctx(1)), ok), { defaultValue: undefined });
    await expect(lastValueFrom(interceptor.intercept(rpc(ctx(2)), failing))).rejects.toThrow('boom');
    await expect(lastValueFrom(interceptor.intercept(rpc(ctx(3)), failing))).rejects.toThrow('boom');

    const h = 'handler="orders.read-models"';
    expect(await value(`change_stream_handler_invocations_total{${h},outcome="success"}`)).toBe(1);
    expect(await value(`change_stream_handler_invocations_total{${h},outcome="error"}`)).toBe(2);
    expect(await value(`change_stream_handler_events_total{${h},outcome="success"}`)).toBe(1);
    expect(await value(`change_stream_handler_duration_seconds_count{${h}}`)).toBe(3);
  });

  it('counts a batch handler call by its events', async () => {
    const { metrics, value } = setup();
    const interceptor = new ChangeHandlerMetricsInterceptor(metrics);
    const failing: CallHandler = { handle: () => throwError(() => new Error('boom')) };
    const batch = new ChangeBatchContext({
      handlerId: 'orders.read-models',
      session: {} as never,
      contexts: [ctx(1), ctx(1)],
      attempt: 1,
      maxAttempts: 1,
      lastAttempt: false,
    });
    await expect(lastValueFrom(interceptor.intercept(rpc(batch), failing))).rejects.toThrow('boom');
    const h = 'handler="orders.read-models"';
    expect(await value(`change_stream_handler_invocations_total{${h},outcome="error"}`)).toBe(1);
    expect(await value(`change_stream_handler_events_total{${h},outcome="error"}`)).toBe(2);
    const alone = ChangeBatchContext.single(ctx(3));
    await expect(lastValueFrom(interceptor.intercept(rpc(alone), failing))).rejects.toThrow('boom');
    expect(await value(`change_stream_handler_events_total{${h},outcome="error"}`)).toBe(3);
  });

  it('lets anything that is not a change handler pass untouched', async () => {
    const { metrics } = setup();
    const interceptor = new ChangeHandlerMetricsInterceptor(metrics);
    const http = { getType: () => 'http' } as unknown as ExecutionContext;
    await expect(lastValueFrom(interceptor.intercept(http, { handle: () => of('x') }))).resolves.toBe('x');
    expect(await metrics.handlerInvocations.get()).toMatchObject({ values: [] });
  });
});
