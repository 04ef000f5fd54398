/**
 * Fetch answers through the stand-in's proxy: librdkafka's mock returns one record batch per
 * partition per Fetch; the proxy fills the answer with the following batches, within the request's
 * per-partition byte limit, as a Kafka broker does. Checked through kafkajs's own decoding.
 */
import { Kafka, type EachBatchPayload } from 'kafkajs';
import { waitFor } from '../../support/wait';
import { nextOffsetOf, readFetchRequest, writeFetchRequest, type FetchRequest } from './fetch-completion';
import { startKafkaStandin, TEST_CONSUMER_SETTINGS, TEST_KAFKA_SETTINGS, type KafkaStandin } from './harness';

const TOPIC = 'fill';
const SENDS = 30;

describe('Kafka stand-in: Fetch answers filled by the proxy', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (let cleanup = cleanups.pop(); cleanup; cleanup = cleanups.pop())
      await cleanup().catch(() => undefined);
  });

  /** Writes SENDS one-message batches to partition 0, then reads them back; the size of each batch kafkajs saw. */
  async function readBack(groupSyncProxy: boolean, maxBytesPerPartition?: number) {
    const cluster: KafkaStandin = await startKafkaStandin({
      topics: [{ name: TOPIC, partitions: 1 }],
      groupSyncProxy,
    });
    cleanups.push(() => cluster.stop());
    const kafka = new Kafka({ ...TEST_KAFKA_SETTINGS, clientId: 'fill', brokers: cluster.brokers });
    const producer = kafka.producer();
    cleanups.push(() => producer.disconnect());
    await producer.connect();
    for (let i = 0; i < SENDS; i++) {
      await producer.send({
        topic: TOPIC,
        messages: [{ key: `k${i}`, value: `message ${i}`.padEnd(100, '.') }],
      });
    }
    const consumer = kafka.consumer({
      ...TEST_CONSUMER_SETTINGS,
      groupId: `fill-${groupSyncProxy}-${maxBytesPerPartition ?? 'default'}`,
      ...(maxBytesPerPartition ? { maxBytesPerPartition } : {}),
    });
    cleanups.push(() => consumer.disconnect());
    await consumer.connect();
    await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
    const batches: number[] = [];
    const values: string[] = [];
    await consumer.run({
      eachBatch: async ({ batch }: EachBatchPayload) => {
        batches.push(batch.messages.length);
        for (const m of batch.messages) values.push(String(m.value).replace(/\.+$/, ''));
      },
    });
    await waitFor(() => values.length >= SENDS, { timeoutMs: 30_000, what: `${SENDS} messages read back` });
    expect(values).toEqual(Array.from({ length: SENDS }, (_, i) => `message ${i}`));
    return { batches, filled: (cluster.groupSync as { filledFetches?: number } | undefined)?.filledFetches };
  }

  it('without the proxy the mock answers one producer batch per Fetch', async () => {
    const { batches } = await readBack(false);
    expect(batches.every((n) => n === 1)).toBe(true);
  }, 60_000);

  it('behind the proxy one Fetch returns the whole backlog, in order, without duplicates', async () => {
    const { batches, filled } = await readBack(true);
    expect(batches).toEqual([SENDS]);
    expect(filled).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it("keeps to the consumer's per-partition byte limit", async () => {
    // each one-message batch is about 180 bytes on the wire; 1000 bytes hold a few of them
    const { batches } = await readBack(true, 1000);
    expect(Math.max(...batches)).toBeGreaterThan(1);
    expect(Math.max(...batches)).toBeLessThan(SENDS);
  }, 60_000);
});

describe('Kafka stand-in: a waiting Fetch behind the proxy', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (let cleanup = cleanups.pop(); cleanup; cleanup = cleanups.pop())
      await cleanup().catch(() => undefined);
  });

  it('gets a message produced while it waits at once, not when its MaxWait ends', async () => {
    const maxWaitTimeInMs = 20_000;
    const cluster = await startKafkaStandin({
      topics: [{ name: TOPIC, partitions: 1 }],
      groupSyncProxy: true,
    });
    cleanups.push(() => cluster.stop());
    const proxy = cluster.groupSync as unknown as { waitingFetches: number };
    const kafka = new Kafka({ ...TEST_KAFKA_SETTINGS, clientId: 'wait', brokers: cluster.brokers });
    const producer = kafka.producer();
    cleanups.push(() => producer.disconnect());
    await producer.connect();
    const consumer = kafka.consumer({ ...TEST_CONSUMER_SETTINGS, groupId: 'wait', maxWaitTimeInMs });
    cleanups.push(() => consumer.disconnect());
    // NOTE: disconnect() waits for the Fetch in flight (held up to MaxWait); stopping the stand-in first ends it.
    cleanups.push(() => cluster.stop());
    await consumer.connect();
    await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
    const received: number[] = [];
    await consumer.run({ eachMessage: async () => void received.push(Date.now()) });
    await waitFor(() => proxy.waitingFetches > 0, { timeoutMs: 30_000, what: 'a Fetch waiting for data' });
    const sentAt = Date.now();
    await producer.send({ topic: TOPIC, messages: [{ value: 'wake up' }] });
    await waitFor(() => received.length > 0, { timeoutMs: maxWaitTimeInMs, what: 'the message' });
    // The bare mock would answer at the end of the 20 s MaxWait; the proxy's long poll answers on the Produce.
    expect(received[0] - sentAt).toBeLessThan(maxWaitTimeInMs / 2);
  }, 90_000);
});

describe('nextOffsetOf', () => {
  const batch = (baseOffset: bigint, lastOffsetDelta: number, bodyBytes = 40) => {
    const b = Buffer.alloc(12 + bodyBytes);
    b.writeBigInt64BE(baseOffset, 0);
    b.writeInt32BE(bodyBytes, 8);
    b.writeInt32BE(lastOffsetDelta, 23);
    return b;
  };

  it('is the offset after the last complete batch, ignoring a partial one at the end', () => {
    const records = Buffer.concat([batch(10n, 2), batch(13n, 4), batch(18n, 0).subarray(0, 30)]);
    expect(nextOffsetOf(records)).toBe(18n);
    expect(nextOffsetOf(Buffer.alloc(0))).toBeUndefined();
  });
});

describe('Fetch request codec', () => {
  const request = (apiVersion: number): FetchRequest => ({
    apiVersion,
    clientId: 'c',
    replicaId: -1,
    maxWait: 100,
    minBytes: 1,
    maxBytes: 1 << 20,
    isolationLevel: 1,
    topics: [
      {
        topic: 't',
        partitions: [
          {
            partition: 2,
            currentLeaderEpoch: apiVersion >= 9 ? 7 : -1,
            fetchOffset: 42n,
            logStartOffset: apiVersion >= 5 ? 3n : -1n,
            maxBytes: 1000,
          },
        ],
      },
    ],
  });

  it.each([4, 7, 11])('reads back what it writes (version %i)', (version) => {
    expect(readFetchRequest(writeFetchRequest(request(version), 9))).toEqual(request(version));
  });

  it('leaves alone a Fetch of an incremental fetch session, and versions it does not know', () => {
    const frame = writeFetchRequest(request(11), 9);
    const sessionAt = 4 + 2 + 2 + 4 + 2 + 1 + 4 * 4 + 1; // size, api, version, correlation, client id "c", four int32s, isolation
    frame.writeInt32BE(5, sessionAt);
    expect(readFetchRequest(frame)).toBeUndefined();
    expect(readFetchRequest(writeFetchRequest({ ...request(4), apiVersion: 3 }, 9))).toBeUndefined();
  });
});
