import type { LoggerService } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { MongoClient } from 'mongodb';
import { resolveOptions } from '../options/resolve-options';
import { ChangeStreamStatus } from '../health/relay-status';
import type { Lease } from '../leader/lease.interface';
import { StreamRelay } from './stream-relay';

const silent: LoggerService = { log: () => undefined, warn: () => undefined, error: () => undefined };
const MARGIN_MS = 500;
const options = resolveOptions({
  worker: false,
  mongo: { uri: 'mongodb://h:1/?replicaSet=rs0' },
  kafka: { brokers: ['h:1'], producerThread: false },
  streams: [{ db: 'shop', collection: 'orders' }],
  lease: {
    store: 'mongo',
    ttlMs: 2_000,
    safetyMarginMs: MARGIN_MS,
    renewIntervalMs: 50,
    retryIntervalMs: 10,
    retryJitterMs: 0,
  },
  relay: {
    checkpointIntervalMs: 0,
    maxAwaitTimeMs: 10,
    backoff: { initialDelayMs: 10, maxDelayMs: 20, factor: 2 },
  },
});

/** A lease granted for `grantMs` at each acquire; renewals succeed while `renewable`. */
class FakeLease implements Lease {
  readonly name = 'shop.orders';
  validUntil = 0;
  grantMs = 10_000;
  renewable = true;
  acquired = 0;
  async acquire(): Promise<boolean> {
    this.acquired++;
    this.validUntil = Date.now() + this.grantMs;
    return true;
  }
  async renew(): Promise<boolean> {
    if (!this.renewable) return false;
    this.validUntil = Date.now() + 10_000;
    return true;
  }
  async release(): Promise<void> {
    this.validUntil = 0;
  }
}

/** A kafkajs producer whose calls the test sees; every producer the relay creates is kept in order. */
function fakeKafka() {
  const producers: Array<Record<'connect' | 'sendBatch' | 'disconnect', jest.Mock>> = [];
  const kafka = {
    producer: () => {
      const producer = {
        connect: jest.fn(async () => undefined),
        sendBatch: jest.fn(async () => []),
        disconnect: jest.fn(async () => undefined),
      };
      producers.push(producer);
      return producer;
    },
  };
  return { kafka: kafka as unknown as Kafka, producers };
}

/** A change stream that yields `events` inserts, then nothing (an idle stream). */
function fakeChangeStream(events: number) {
  let n = 0;
  return {
    closed: false,
    resumeToken: null,
    async tryNext() {
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (n >= events) return null;
      n++;
      return {
        _id: { _data: `0${n}` },
        operationType: 'insert',
        ns: { db: 'shop', coll: 'orders' },
        documentKey: { _id: n },
        fullDocument: { _id: n },
      };
    },
    async close() {
      this.closed = true;
    },
  };
}

function setup(relayOptions = options) {
  let epoch = 0;
  const checkpoints = {
    findOneAndUpdate: jest.fn(async () => ({
      _id: 'shop.orders',
      epoch: ++epoch,
      resumeToken: { _data: '00' },
    })),
    updateOne: jest.fn(async () => ({ matchedCount: 1 })),
  };
  const orders = { watch: jest.fn(() => fakeChangeStream(1)) };
  const client = {
    db: (name: string) => ({ collection: () => (name === options.storage.database ? checkpoints : orders) }),
  };
  const lease = new FakeLease();
  const { kafka, producers } = fakeKafka();
  const status = new ChangeStreamStatus();
  const relay = new StreamRelay({
    stream: relayOptions.streams[0],
    options: relayOptions,
    client: client as unknown as MongoClient,
    kafka,
    producerThread: null,
    lease,
    status,
    logger: silent,
  });
  relays.push(relay);
  const stats = status.stream('shop.orders');
  return { relay, lease, checkpoints, producers, status: () => stats.snapshot() };
}

const relays: StreamRelay[] = [];
const cleanups: Array<() => void> = [];
afterEach(async () => {
  cleanups.splice(0).forEach((cleanup) => cleanup());
  await Promise.all(relays.splice(0).map((relay) => relay.stop()));
});

describe('StreamRelay', () => {
  it('takes no epoch when the lease validity, minus the margin, passed before the $inc (paused after winning)', async () => {
    const { relay, lease, checkpoints } = setup();
    // Won, then paused: by the time it runs again, less than the margin is left.
    lease.grantMs = MARGIN_MS - 1;
    relay.start();
    await waitUntil(() => lease.acquired >= 3);
    expect(checkpoints.findOneAndUpdate).not.toHaveBeenCalled();
  });

  it('stops the term’s producer at once when the term is lost, without waiting for the session, and uses a fresh one next term', async () => {
    const { relay, lease, checkpoints, producers } = setup();
    let releaseSave: (result: { matchedCount: number }) => void = () => undefined;
    // The checkpoint write after the first event hangs (MongoDB slow): the session waits on it.
    checkpoints.updateOne.mockImplementationOnce(() => new Promise((resolve) => (releaseSave = resolve)));
    cleanups.push(() => releaseSave({ matchedCount: 0 }));
    relay.start();
    await waitUntil(() => checkpoints.updateOne.mock.calls.length === 1);
    const termProducer = producers.find((p) => p.sendBatch.mock.calls.length > 0)!;
    expect(termProducer).toBeDefined();

    lease.renewable = false;
    await waitUntil(() => termProducer.disconnect.mock.calls.length > 0);

    // The session returns once the write does; the next term gets a producer of its own.
    lease.renewable = true;
    releaseSave({ matchedCount: 0 });
    await waitUntil(() => checkpoints.findOneAndUpdate.mock.calls.length >= 2);
    await waitUntil(() => producers.some((p) => p !== termProducer && p.sendBatch.mock.calls.length > 0));
    expect(producers.filter((p) => p.sendBatch.mock.calls.length > 0)).toHaveLength(2);
  });

  it('says it is restarting after a term failed on an error no policy covers, then campaigns again', async () => {
    // A standby interval long enough to see the backoff (~0.5 s) by polling.
    const { relay, checkpoints, status } = setup({
      ...options,
      lease: { ...options.lease, retryIntervalMs: 300 },
    });
    checkpoints.findOneAndUpdate.mockRejectedValueOnce(new TypeError('unexpected: boom'));
    relay.start();
    await waitUntil(() => status().role === 'restarting');
    expect(status().restart).toEqual({
      reason: expect.stringContaining('unexpected: boom'),
      attempt: 1,
      since: expect.any(Date),
      retryAt: expect.any(Date),
    });
    expect(status().lastError?.message).toContain('unexpected: boom');
    await waitUntil(() => status().role === 'leader' && status().eventsPublished === 1);
    expect(status()).toMatchObject({ restart: null, restarts: 1, stoppedReason: null });
  });
});

/** Polls `check` every few milliseconds for up to 5 s (the relay under test runs on real timers). */
async function waitUntil(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
  if (!check()) throw new Error('condition not reached within 5 s');
}
