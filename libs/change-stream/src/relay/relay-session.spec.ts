import type { LoggerService } from '@nestjs/common';
import { DEFAULTS } from '../options/defaults';
import { FencedOutError } from '../errors/fenced-out.error';
import { ChangeStreamStatus } from '../health/relay-status';
import type { EventPublisher } from '../publisher/event-publisher';
import { unpackBatch, type OutgoingMessage, type PackedBatch } from '../publisher/outgoing-message';
import { EMPTY_POSITION, type CheckpointStore, type StreamPosition } from './checkpoint.store';
import { relayItem, type InFlightBuffer } from './in-flight-buffer';
import { RelaySession, type RelaySource } from './relay-session';

const silent: LoggerService = { log: () => undefined, warn: () => undefined, error: () => undefined };
const relay = {
  ...DEFAULTS.relay,
  deadLetterTopic: 'cdc-relay.dlq',
  checkpointTopic: 'cdc-relay.checkpoints',
  batchSize: 2,
  maxInFlightEvents: 4,
  checkpointIntervalMs: 0,
  backoff: { initialDelayMs: 10, maxDelayMs: 20, factor: 2 },
};
const at = (n: number): StreamPosition => ({ ...EMPTY_POSITION, resumeToken: { _data: `t${n}` } });
const message = (n: number): OutgoingMessage => ({
  topic: 't',
  key: `k${n}`,
  value: `v${n}`,
  headers: {},
});

const keysOf = (batch: PackedBatch) => unpackBatch(batch).map((m) => m.key.toString());

/** A source that queues events 1..n (each waiting for space), then ends or fails. */
class ScriptedSource implements RelaySource {
  read = 0;
  constructor(
    private readonly events: number,
    private readonly failWith?: Error,
    /** Then wait, as an idle stream does, until told to stop. */
    private readonly thenIdle = false,
  ) {}
  async run(buffer: InFlightBuffer, signal: AbortSignal): Promise<void> {
    for (let n = 1; n <= this.events; n++) {
      await buffer.waitForSpace(signal);
      if (signal.aborted) return;
      buffer.push(relayItem([message(n)], at(n)));
      this.read = n;
    }
    if (this.failWith) throw this.failWith;
    if (this.thenIdle)
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  }
}

/** Terms of the sessions a test started: aborted after each test, so a failed test leaves nothing running. */
const terms: AbortController[] = [];
afterEach(() => terms.splice(0).forEach((term) => term.abort()));

function setup() {
  const sent: string[] = [];
  const saved: string[] = [];
  const publisher = {
    send: jest.fn(async (batch: PackedBatch) => {
      await new Promise((resolve) => setImmediate(resolve));
      sent.push(...keysOf(batch));
    }),
    reset: jest.fn(async () => undefined),
  };
  const checkpoints = {
    save: jest.fn(async (_epoch: number, p: StreamPosition) => void saved.push(String(p.resumeToken?._data))),
  };
  const stats = new ChangeStreamStatus().stream('s');
  const status = () => stats.snapshot();
  const term = new AbortController();
  terms.push(term);
  const leader = { valid: true };
  const session = new RelaySession(
    {
      stream: 's',
      relay,
      publisher: publisher as unknown as EventPublisher,
      checkpoints: checkpoints as unknown as CheckpointStore,
      epoch: 7,
      stats,
      logger: silent,
      limits: { maxBatchBytes: 1_000_000 },
      stillLeader: () => !term.signal.aborted && leader.valid,
    },
    term.signal,
    EMPTY_POSITION,
  );
  return { session, publisher, checkpoints, sent, saved, status, term, leader };
}

describe('RelaySession: publishing and checkpointing', () => {
  it('publishes in order, in batches, and checkpoints only acknowledged positions', async () => {
    const { session, publisher, sent, saved, status } = setup();
    await session.run(new ScriptedSource(5));
    expect(sent).toEqual(['k1', 'k2', 'k3', 'k4', 'k5']);
    expect(publisher.send.mock.calls.every(([batch]) => batch.count <= relay.batchSize)).toBe(true);
    expect(saved[saved.length - 1]).toBe('t5');
    // Every saved position was acknowledged before it was saved.
    for (const token of saved) expect(sent).toContain(`k${token.slice(1)}`);
    expect(status().eventsPublished).toBe(5);
    expect(status().inFlightEvents).toBe(0);
  });

  it('does not move the checkpoint while Kafka fails, keeps reading bounded, and catches up after', async () => {
    const { session, publisher, saved, sent } = setup();
    let failing = true;
    publisher.send.mockImplementation(async (batch: PackedBatch) => {
      if (failing) throw new Error('broker down');
      sent.push(...keysOf(batch));
    });
    const source = new ScriptedSource(20);
    const running = session.run(source);
    await waitUntil(() => publisher.send.mock.calls.length >= 3);
    expect(saved).toEqual([]);
    expect(source.read).toBe(relay.maxInFlightEvents);
    expect(publisher.reset).toHaveBeenCalled();
    failing = false;
    await running;
    expect(sent).toEqual(Array.from({ length: 20 }, (_, i) => `k${i + 1}`));
    expect(saved[saved.length - 1]).toBe('t20');
  });
});

describe('RelaySession: a lost term or lease', () => {
  it('stops sending and writes nothing more once the term is lost', async () => {
    const { session, publisher, saved, term } = setup();
    let unblock!: () => void;
    publisher.send.mockImplementationOnce(() => new Promise<void>((r) => (unblock = r)));
    const running = session.run(new ScriptedSource(10));
    await waitUntil(() => publisher.send.mock.calls.length === 1);
    term.abort();
    await running;
    unblock();
    expect(publisher.send).toHaveBeenCalledTimes(1);
    expect(saved).toEqual([]);
  });

  it('sends nothing once the lease validity has passed, even before the lease watchdog aborts the term', async () => {
    const { session, publisher, saved, leader } = setup();
    leader.valid = false;
    await session.run(new ScriptedSource(3));
    expect(publisher.send).not.toHaveBeenCalled();
    expect(saved).toEqual([]);
  });

  it('makes no second attempt when the backoff after a failed send ends past the lease validity', async () => {
    const { session, publisher, saved, leader, term } = setup();
    // The first attempt fails; the lease validity (minus the margin) passes during the backoff, and
    // the lease watchdog has not aborted the term yet (a process paused, or a late timer).
    publisher.send.mockImplementationOnce(async () => {
      leader.valid = false;
      throw new Error('broker down');
    });
    await session.run(new ScriptedSource(3));
    expect(publisher.send).toHaveBeenCalledTimes(1);
    expect(saved).toEqual([]);
    expect(term.signal.aborted).toBe(false);
  });
});

describe('RelaySession: what the status says while a send or checkpoint waits', () => {
  it('reports since when a send waits and its consecutive failures, and clears both once acknowledged', async () => {
    const { session, publisher, status } = setup();
    let failing = true;
    publisher.send.mockImplementation(async () => {
      if (failing) throw new Error('broker down');
    });
    const before = Date.now();
    const running = session.run(new ScriptedSource(4));
    await waitUntil(() => status().consecutivePublishFailures >= 3);
    expect(status().publishWaitingSince!.getTime()).toBeGreaterThanOrEqual(before);
    const since = status().publishWaitingSince;
    await waitUntil(() => status().consecutivePublishFailures >= 4);
    // The same send still waits: its start does not move with each retry.
    expect(status().publishWaitingSince).toBe(since);
    failing = false;
    await running;
    expect(status().publishWaitingSince).toBeNull();
    expect(status().consecutivePublishFailures).toBe(0);
  });

  it('reports since when read events wait for their checkpoint, until a checkpoint covers them', async () => {
    const { session, checkpoints, status } = setup();
    let refusing = true;
    checkpoints.save.mockImplementation(async () => {
      if (refusing) throw new Error('MongoDB unavailable');
    });
    const before = Date.now();
    const running = session.run(new ScriptedSource(3, undefined, true));
    await waitUntil(() => checkpoints.save.mock.calls.length >= 3);
    const since = status().checkpointPendingSince!;
    expect(since.getTime()).toBeGreaterThanOrEqual(before);
    await waitUntil(() => checkpoints.save.mock.calls.length >= 4);
    expect(status().checkpointPendingSince).toBe(since);
    refusing = false;
    await waitUntil(() => status().checkpointPendingSince === null);
    session.drain(1_000);
    await running;
  });
});

describe('RelaySession: fencing, source failure and drain', () => {
  it('rethrows a rejected checkpoint (fenced out) and stops reading', async () => {
    const { session, checkpoints } = setup();
    checkpoints.save.mockRejectedValue(new FencedOutError('s', 7));
    const source = new ScriptedSource(100);
    await expect(session.run(source)).rejects.toBeInstanceOf(FencedOutError);
    expect(source.read).toBeLessThan(100);
  });

  it('flushes and checkpoints what the source read before it failed, then rethrows', async () => {
    const { session, sent, saved } = setup();
    await expect(session.run(new ScriptedSource(3, new Error('history lost')))).rejects.toThrow(
      'history lost',
    );
    expect(sent).toEqual(['k1', 'k2', 'k3']);
    expect(saved[saved.length - 1]).toBe('t3');
  });

  it('drain stops reading, flushes what is in flight and checkpoints it', async () => {
    const { session, sent, saved } = setup();
    const source = new ScriptedSource(1_000);
    const running = session.run(source);
    await waitUntil(() => sent.length >= 2);
    session.drain(5_000);
    await running;
    expect(source.read).toBeLessThan(1_000);
    expect(sent).toHaveLength(source.read);
    expect(saved[saved.length - 1]).toBe(`t${source.read}`);
  });
});

/** Polls `check` every millisecond for up to 5 s (real time; the sessions under test use real timers). */
async function waitUntil(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  if (!check()) throw new Error('condition not reached within 5 s');
}
