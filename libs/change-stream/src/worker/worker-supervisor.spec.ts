/**
 * A kafkajs consumer that gave up for good (CRASH with `restart: false`) is replaced by a new one in
 * the same group after a backoff, and the status names it meanwhile. The interleavings (a crash,
 * the backoff, a failed reconnect, a shutdown in the middle) are forced with a scripted kafkajs.
 */
import type { Kafka } from 'kafkajs';
import type { ProcessedEventStore } from '../idempotency/processed-event.store';
import { WORKER_DEFAULTS } from '../options/defaults';
import { validateWorkerOptions } from '../options/worker';
import type { ChangeDispatcher } from './change-dispatcher';
import { ChangeEventWorker } from './change-event.worker';
import { ChangeHandlerRegistry, type ChangeHandlerRegistration } from '../handlers/change-handler.registry';
import type { WorkerModuleOptions } from './worker-module-options';
import type { KafkaDeadLetterPublisher } from './kafka-dead-letter.publisher';
import type { MarkerRetentionCheck } from './marker-retention';

/** A kafkajs consumer whose events the test emits. */
function scriptedConsumer() {
  const listeners = new Map<string, (event: { payload: unknown }) => void>();
  return {
    events: { GROUP_JOIN: 'join', CRASH: 'crash' },
    on: jest.fn((event: string, listener: (event: { payload: unknown }) => void) => {
      listeners.set(event, listener);
    }),
    emit: (event: 'join' | 'crash', payload: unknown) => listeners.get(event)?.({ payload }),
    connect: jest.fn(async () => undefined),
    subscribe: jest.fn(async () => undefined),
    run: jest.fn(async () => undefined),
    disconnect: jest.fn(async () => undefined),
  };
}
type ScriptedConsumer = ReturnType<typeof scriptedConsumer>;

const TOPICS = ['cdc.d.a', 'cdc.d.b'];
const BACKOFF = WORKER_DEFAULTS.restartBackoff;
const crash = (consumer: ScriptedConsumer, message: string) =>
  consumer.emit('crash', { restart: false, error: new Error(message) });

function setup() {
  const options: WorkerModuleOptions = {
    roles: { worker: true },
    worker: validateWorkerOptions({ groupId: 'g' }),
    streams: [],
    excludeNamespaces: [],
    kafka: { topicPrefix: 'cdc' },
    storage: { database: 'lib', processed: 'p' },
  };
  const registry = new ChangeHandlerRegistry();
  registry.register(
    TOPICS.map(
      (topic) =>
        ({
          id: `h-${topic}`,
          label: 'H.h',
          topic,
          database: 'd',
          collection: 'c',
        }) as ChangeHandlerRegistration,
    ),
  );
  const consumers: ScriptedConsumer[] = [];
  /** What the next consumer created does; set before the restart it is for. */
  let prepare: (consumer: ScriptedConsumer) => void = () => undefined;
  const kafka = {
    consumer: jest.fn(() => {
      const consumer = scriptedConsumer();
      prepare(consumer);
      consumers.push(consumer);
      return consumer;
    }),
  };
  const deadLetters = {
    connect: jest.fn(async () => undefined),
    disconnect: jest.fn(async () => undefined),
    counts: jest.fn(() => []),
  };
  const worker = new ChangeEventWorker(
    options,
    kafka as unknown as Kafka,
    registry,
    { dispatchBatch: jest.fn() } as unknown as ChangeDispatcher,
    { ensureIndexes: jest.fn(async () => undefined) } as unknown as ProcessedEventStore,
    deadLetters as unknown as KafkaDeadLetterPublisher,
    { verify: jest.fn(async () => undefined) } as unknown as MarkerRetentionCheck,
  );
  return { worker, kafka, consumers, deadLetters, prepareNext: (fn: typeof prepare) => (prepare = fn) };
}

describe('ChangeEventWorker restarts a consumer kafkajs gave up on', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  it('reports restarting with the reason, then creates a new consumer in the same group after the backoff', async () => {
    const s = setup();
    await s.worker.onApplicationBootstrap();
    const [first] = s.consumers;
    first.emit('join', { groupId: 'g', memberAssignment: { 'cdc.d.a': [0, 1] } });

    crash(first, 'The group coordinator is not available');
    expect(s.worker.status()).toMatchObject({
      state: 'restarting',
      assignment: {},
      restart: {
        reason: expect.stringContaining('The group coordinator is not available'),
        attempt: 1,
        since: new Date(1_000_000),
      },
      restarts: 0,
    });
    expect(s.kafka.consumer).toHaveBeenCalledTimes(1);

    // The first delay is at most initialMs (equal jitter: between half of it and all of it).
    await jest.advanceTimersByTimeAsync(BACKOFF.initialDelayMs);
    expect(s.consumers).toHaveLength(2);
    const second = s.consumers[1];
    expect(s.kafka.consumer).toHaveBeenLastCalledWith(expect.objectContaining({ groupId: 'g' }));
    expect(second.connect).toHaveBeenCalledTimes(1);
    expect(second.subscribe).toHaveBeenCalledWith({ topics: TOPICS, fromBeginning: true });
    expect(second.run).toHaveBeenCalledWith(
      expect.objectContaining({ autoCommit: true, eachBatchAutoResolve: false }),
    );
    // The old consumer is closed and never subscribed or run again: its handlers are not doubled.
    expect(first.disconnect).toHaveBeenCalled();
    expect(first.subscribe).toHaveBeenCalledTimes(1);
    expect(first.run).toHaveBeenCalledTimes(1);
    expect(s.worker.status()).toMatchObject({ state: 'running', restart: null, restarts: 1 });

    // A late event of the old consumer no longer counts.
    crash(first, 'late');
    expect(s.worker.status().state).toBe('running');
    second.emit('join', { groupId: 'g', memberAssignment: { 'cdc.d.b': [0] } });
    expect(s.worker.status().assignment).toEqual({ 'cdc.d.b': [0] });
  });

  it('counts a failed reconnect as the next attempt, closes that consumer, and backs off longer', async () => {
    const s = setup();
    await s.worker.onApplicationBootstrap();
    s.prepareNext((next) => next.connect.mockRejectedValueOnce(new Error('Connection error: ECONNREFUSED')));
    crash(s.consumers[0], 'gave up');

    await jest.advanceTimersByTimeAsync(BACKOFF.initialDelayMs);
    expect(s.consumers).toHaveLength(2);
    expect(s.consumers[1].disconnect).toHaveBeenCalled();
    expect(s.worker.status()).toMatchObject({
      state: 'restarting',
      restart: { reason: expect.stringContaining('ECONNREFUSED'), attempt: 2, since: new Date(1_000_000) },
    });

    s.prepareNext(() => undefined);
    await jest.advanceTimersByTimeAsync(2 * BACKOFF.initialDelayMs);
    expect(s.consumers).toHaveLength(3);
    expect(s.worker.status()).toMatchObject({ state: 'running', restart: null, restarts: 1 });
  });
});

describe('ChangeEventWorker restarts: a crash while joining, a shutdown meanwhile', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  it('counts a crash while the new consumer joins (inside run) as a failed attempt', async () => {
    const s = setup();
    await s.worker.onApplicationBootstrap();
    // kafkajs's run() awaits the first join; a join that fails for good emits CRASH before run() returns.
    s.prepareNext((next) =>
      next.run.mockImplementationOnce(async () => {
        crash(next, 'INVALID_SESSION_TIMEOUT');
        return undefined;
      }),
    );
    crash(s.consumers[0], 'gave up');
    await jest.advanceTimersByTimeAsync(BACKOFF.initialDelayMs);
    expect(s.worker.status()).toMatchObject({
      state: 'restarting',
      restart: { reason: expect.stringContaining('INVALID_SESSION_TIMEOUT'), attempt: 2 },
    });
    s.prepareNext(() => undefined);
    await jest.advanceTimersByTimeAsync(2 * BACKOFF.initialDelayMs);
    expect(s.consumers).toHaveLength(3);
    expect(s.worker.status().state).toBe('running');
  });

  it('stops cleanly when the application shuts down during the backoff', async () => {
    const s = setup();
    await s.worker.onApplicationBootstrap();
    crash(s.consumers[0], 'gave up');
    // No timer is advanced: the shutdown must not wait for the backoff.
    await s.worker.beforeApplicationShutdown();
    expect(s.worker.status()).toMatchObject({ state: 'stopped', restart: null });
    expect(s.deadLetters.disconnect).toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(10 * BACKOFF.maxDelayMs);
    expect(s.consumers).toHaveLength(1);
  });

  it('closes a consumer whose reconnect finished after the shutdown began, without running it', async () => {
    const s = setup();
    await s.worker.onApplicationBootstrap();
    let connected!: () => void;
    s.prepareNext((next) =>
      next.connect.mockImplementationOnce(
        () => new Promise<undefined>((r) => (connected = () => r(undefined))),
      ),
    );
    crash(s.consumers[0], 'gave up');
    await jest.advanceTimersByTimeAsync(BACKOFF.initialDelayMs);
    const shutdown = s.worker.beforeApplicationShutdown();
    connected();
    await shutdown;
    const second = s.consumers[1];
    expect(second.run).not.toHaveBeenCalled();
    expect(second.disconnect).toHaveBeenCalled();
    expect(s.worker.status().state).toBe('stopped');
  });
});
