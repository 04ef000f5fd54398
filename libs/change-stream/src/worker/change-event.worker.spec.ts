import type { EachBatchPayload, Kafka } from 'kafkajs';
import { waitFor } from '../../../../test/support/wait';
import { validateWorkerOptions } from '../options/worker';
import type { ProcessedEventStore } from '../idempotency/processed-event.store';
import type { ChangeDispatcher } from './change-dispatcher';
import type { BatchDispatchReport, DispatchReport } from './dispatch-report';
import { BatchSizing, ChangeEventWorker, SHARED_TRANSACTION_TARGET_MS } from './change-event.worker';
import { ChangeHandlerRegistry, type ChangeHandlerRegistration } from '../handlers/change-handler.registry';
import type { ChangeMessage } from './change-message';
import type { WorkerModuleOptions } from './worker-module-options';
import type { KafkaDeadLetterPublisher } from './kafka-dead-letter.publisher';
import type { MarkerRetentionCheck } from './marker-retention';

function fakeKafka() {
  const consumer = {
    events: { GROUP_JOIN: 'join', CRASH: 'crash' },
    on: jest.fn(),
    connect: jest.fn(async () => undefined),
    subscribe: jest.fn(async () => undefined),
    run: jest.fn(async (_config: { eachBatch: (p: EachBatchPayload) => Promise<void> }) => undefined),
    disconnect: jest.fn(async () => undefined),
  };
  return { kafka: { consumer: jest.fn(() => consumer) }, consumer };
}

const registration = (topic: string): ChangeHandlerRegistration =>
  ({ id: `h-${topic}`, label: 'H.h', topic, database: 'd', collection: 'c' }) as ChangeHandlerRegistration;

function setup({ workerRole = true, topics = ['cdc.d.a', 'cdc.d.b'], worker = {} } = {}) {
  const options: WorkerModuleOptions = {
    roles: { worker: workerRole },
    worker: validateWorkerOptions({
      groupId: 'g',
      partitionConcurrency: 3,
      kafka: { sessionTimeout: 7000, heartbeatInterval: 20 },
      ...worker,
    }),
    streams: [],
    excludeNamespaces: [],
    kafka: { topicPrefix: 'cdc' },
    storage: { database: 'lib', processed: 'p' },
  };
  const registry = new ChangeHandlerRegistry();
  registry.register(topics.map(registration));
  const dispatch = jest.fn<Promise<DispatchReport>, [ChangeMessage, { signal?: AbortSignal }]>(async () => ({
    complete: true,
    handlers: [],
  }));
  // NOTE: the fake dispatches a chunk message by message through `dispatch`, stopping at an incomplete one.
  const dispatchBatch = jest.fn(async (messages: ChangeMessage[], control: { signal?: AbortSignal }) => {
    const result: BatchDispatchReport = { reports: [], shared: 0, fellBack: false };
    for (const message of messages) {
      const report = await dispatch(message, control);
      result.reports.push(report);
      if (!report.complete) break;
    }
    return result;
  });
  const store = { ensureIndexes: jest.fn(async () => undefined) };
  const deadLetters = {
    connect: jest.fn(async () => undefined),
    disconnect: jest.fn(async () => undefined),
    counts: jest.fn(() => []),
  };
  const retention = { verify: jest.fn(async () => undefined) };
  const { kafka, consumer: kafkaConsumer } = fakeKafka();
  const worker$ = new ChangeEventWorker(
    options,
    kafka as unknown as Kafka,
    registry,
    { dispatchBatch } as unknown as ChangeDispatcher,
    store as unknown as ProcessedEventStore,
    deadLetters as unknown as KafkaDeadLetterPublisher,
    retention as unknown as MarkerRetentionCheck,
  );
  return { worker: worker$, kafka, kafkaConsumer, dispatch, dispatchBatch, store, deadLetters, retention };
}

function batchPayload(offsets: string[], overrides: Partial<EachBatchPayload> = {}) {
  const resolved: string[] = [];
  const payload = {
    batch: {
      topic: 'cdc.d.a',
      partition: 1,
      messages: offsets.map((offset) => ({ offset, key: null, value: Buffer.from('v'), headers: {} })),
    },
    resolveOffset: jest.fn((offset: string) => void resolved.push(offset)),
    heartbeat: jest.fn(async () => undefined),
    commitOffsetsIfNecessary: jest.fn(async () => undefined),
    isRunning: () => true,
    isStale: () => false,
    ...overrides,
  } as unknown as EachBatchPayload;
  return { payload, resolved };
}

async function started(s: ReturnType<typeof setup>) {
  await s.worker.onApplicationBootstrap();
  return s.kafkaConsumer.run.mock.calls[0][0].eachBatch;
}

describe('ChangeEventWorker: start-up', () => {
  it('does nothing with the worker role off', async () => {
    const s = setup({ workerRole: false });
    await s.worker.onApplicationBootstrap();
    expect(s.kafka.consumer).not.toHaveBeenCalled();
    expect(s.worker.status().state).toBe('off');
  });

  it('does not join a group when no handler exists', async () => {
    const s = setup({ topics: [] });
    await s.worker.onApplicationBootstrap();
    expect(s.kafka.consumer).not.toHaveBeenCalled();
  });

  it("prepares markers and dead letters, then subscribes one group to its handlers' topics only", async () => {
    const s = setup();
    await s.worker.onApplicationBootstrap();
    expect(s.retention.verify).toHaveBeenCalledWith(['cdc.d.a', 'cdc.d.b']);
    expect(s.store.ensureIndexes).toHaveBeenCalled();
    expect(s.deadLetters.connect).toHaveBeenCalled();
    expect(s.kafka.consumer).toHaveBeenCalledWith({
      sessionTimeout: 7000,
      heartbeatInterval: 20,
      groupId: 'g',
      // Read committed, explicitly: an aborted Kafka transaction's messages never reach a handler.
      readUncommitted: false,
    });
    expect(s.kafkaConsumer.subscribe).toHaveBeenCalledWith({
      topics: ['cdc.d.a', 'cdc.d.b'],
      fromBeginning: true,
    });
    expect(s.kafkaConsumer.run).toHaveBeenCalledWith(
      expect.objectContaining({
        autoCommit: true,
        autoCommitInterval: 5000,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 3,
      }),
    );
    expect(s.worker.status()).toMatchObject({ state: 'running', groupId: 'g' });
  });

  it('reports restarting when kafkajs crashes without a restart, and stays running when it restarts', async () => {
    const s = setup();
    await s.worker.onApplicationBootstrap();
    const onCrash = s.kafkaConsumer.on.mock.calls.find(([event]) => event === 'crash')![1] as (
      e: unknown,
    ) => void;
    onCrash({ payload: { restart: true, error: new Error('rebalancing') } });
    expect(s.worker.status().state).toBe('running');
    onCrash({ payload: { restart: false, error: new Error('group coordinator gone') } });
    // A new consumer replaces it after a backoff: consumer-supervisor.spec.ts.
    expect(s.worker.status().state).toBe('restarting');
    await s.worker.beforeApplicationShutdown();
  });
});

describe('ChangeEventWorker: batches', () => {
  it('resolves each offset only after its message is complete, in order', async () => {
    const s = setup();
    const eachBatch = await started(s);
    const { payload, resolved } = batchPayload(['10', '11', '12']);
    await eachBatch(payload);
    expect(s.dispatch.mock.calls.map(([m]) => [m.topic, m.partition, m.offset])).toEqual([
      ['cdc.d.a', 1, '10'],
      ['cdc.d.a', 1, '11'],
      ['cdc.d.a', 1, '12'],
    ]);
    expect(resolved).toEqual(['10', '11', '12']);
    expect(s.dispatchBatch).toHaveBeenCalledTimes(1);
    expect(payload.commitOffsetsIfNecessary).toHaveBeenCalledTimes(1);
  });

  it('hands the dispatcher chunks of at most batchSize messages, committing after each', async () => {
    const s = setup({ worker: { batchSize: 2 } });
    const eachBatch = await started(s);
    const { payload, resolved } = batchPayload(['1', '2', '3', '4', '5']);
    await eachBatch(payload);
    expect(s.dispatchBatch.mock.calls.map(([chunk]) => chunk.map((m) => m.offset))).toEqual([
      ['1', '2'],
      ['3', '4'],
      ['5'],
    ]);
    expect(resolved).toEqual(['1', '2', '3', '4', '5']);
    expect(payload.commitOffsetsIfNecessary).toHaveBeenCalledTimes(3);
    expect(s.worker.status().completedMessages).toBe(5);
  });

  it('stops the batch at an incomplete message without resolving it', async () => {
    const s = setup();
    const eachBatch = await started(s);
    s.dispatch
      .mockResolvedValueOnce({ complete: true, handlers: [] })
      .mockResolvedValueOnce({ complete: false, handlers: [] });
    const { payload, resolved } = batchPayload(['1', '2', '3']);
    await eachBatch(payload);
    expect(s.dispatch).toHaveBeenCalledTimes(2);
    expect(resolved).toEqual(['1']);
    expect(s.worker.status().completedMessages).toBe(1);
  });

  it('stops taking messages when kafkajs stops or the partition went stale', async () => {
    const s = setup({ worker: { batchSize: 1 } });
    const eachBatch = await started(s);
    let running = true;
    s.dispatch.mockImplementation(async () => {
      running = false;
      return { complete: true, handlers: [] };
    });
    const { payload, resolved } = batchPayload(['1', '2'], { isRunning: () => running });
    await eachBatch(payload);
    expect(resolved).toEqual(['1']);
    const stale = batchPayload(['3'], { isStale: () => true });
    await eachBatch(stale.payload);
    expect(stale.resolved).toEqual([]);
  });
});

describe('ChangeEventWorker: heartbeats and shutdown', () => {
  it('heartbeats during a long handler and rethrows a heartbeat failure once the message is resolved', async () => {
    const s = setup({ worker: { batchSize: 1 } });
    const eachBatch = await started(s);
    const rebalancing = new Error('The group is rebalancing');
    const heartbeat = jest.fn().mockRejectedValue(rebalancing);
    let release!: () => void;
    s.dispatch.mockImplementation(
      () =>
        new Promise<DispatchReport>((resolve) => {
          release = () => resolve({ complete: true, handlers: [] });
        }),
    );
    const { payload, resolved } = batchPayload(['1', '2'], { heartbeat });
    const running = eachBatch(payload);
    await waitFor(() => heartbeat.mock.calls.length > 0, { what: 'a heartbeat during the handler' });
    release();
    await expect(running).rejects.toBe(rebalancing);
    expect(resolved).toEqual(['1']);
  });

  it('drains on shutdown: interrupts retry waits, disconnects (which commits), then closes the dead-letter producer', async () => {
    const s = setup();
    await s.worker.onApplicationBootstrap();
    const signal = new Promise<AbortSignal>((resolve) => {
      s.dispatch.mockImplementation(async (_m, control) => {
        resolve(control.signal!);
        return { complete: true, handlers: [] };
      });
    });
    await s.kafkaConsumer.run.mock.calls[0][0].eachBatch(batchPayload(['1']).payload);
    expect((await signal).aborted).toBe(false);
    await s.worker.beforeApplicationShutdown();
    expect((await signal).aborted).toBe(true);
    expect(s.kafkaConsumer.disconnect).toHaveBeenCalled();
    expect(s.deadLetters.disconnect).toHaveBeenCalled();
    expect(s.worker.status().state).toBe('stopped');
  });

  it('gives up waiting after shutdownTimeoutMs when a handler hangs', async () => {
    const s = setup({ worker: { shutdownTimeoutMs: 20 } });
    await s.worker.onApplicationBootstrap();
    s.kafkaConsumer.disconnect.mockReturnValue(new Promise(() => undefined));
    await s.worker.beforeApplicationShutdown();
    expect(s.deadLetters.disconnect).toHaveBeenCalled();
    expect(s.worker.status().state).toBe('stopped');
  });
});

describe('BatchSizing', () => {
  const report = (messages: number, { shared = messages, fellBack = false } = {}): BatchDispatchReport => ({
    reports: Array.from({ length: messages }, () => ({ complete: true, handlers: [] })),
    shared,
    fellBack,
  });

  it('starts at batchSize, halves after a fall-back and doubles back after shared commits', () => {
    const sizing = new BatchSizing(40);
    expect(sizing.size()).toBe(40);
    sizing.record(report(40, { shared: 0, fellBack: true }), 1);
    expect(sizing.size()).toBe(20);
    sizing.record(report(20, { shared: 0, fellBack: true }), 1);
    expect(sizing.size()).toBe(10);
    sizing.record(report(10), 1);
    expect(sizing.size()).toBe(20);
    sizing.record(report(20), 1);
    sizing.record(report(40), 1);
    expect(sizing.size()).toBe(40);
  });

  it('keeps a shared transaction near the target time when handlers are slow', () => {
    const sizing = new BatchSizing(100);
    sizing.record(report(10), 10 * 50);
    // NOTE: one size seen: twice as many once, to tell the per-message time from the fixed one.
    expect(sizing.size()).toBe(20);
    sizing.record(report(20), 20 * 50);
    expect(sizing.size()).toBe(SHARED_TRANSACTION_TARGET_MS / 50);
    const slow = new BatchSizing(100);
    slow.record(report(1, { shared: 0 }), 10 * SHARED_TRANSACTION_TARGET_MS);
    slow.record(report(2, { shared: 0 }), 20 * SHARED_TRANSACTION_TARGET_MS);
    expect(slow.size()).toBe(1);
  });

  it('does not shrink a batch whose time is the round trips every transaction makes', () => {
    // NOTE: a loaded MongoDB: ~200 ms of round trips whatever the size, 0.5 ms per message.
    const sizing = new BatchSizing(100);
    sizing.record(report(1), 200.5);
    sizing.record(report(sizing.size()), 200 + 0.5 * sizing.size());
    expect(sizing.size()).toBe(100);
    sizing.record(report(100), 250);
    sizing.record(report(37), 218.5);
    expect(sizing.size()).toBe(100);
  });
});
