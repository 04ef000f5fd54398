/**
 * The Kafka stand-in (librdkafka mock cluster) driven through the real kafkajs client: the features
 * the library's tests rely on, the fault injection commands, and the launcher's error reporting.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import path from 'node:path';
import { Consumer, IHeaders, Kafka, KafkaConfig, logLevel, Producer } from 'kafkajs';
import { waitFor } from '../../support/wait';
import { ensureBuilt } from './build';
import {
  KafkaStandin,
  KafkaStandinOptions,
  startKafkaStandin,
  TEST_CONSUMER_SETTINGS,
  TEST_KAFKA_SETTINGS,
} from './harness';

const PRODUCE = 0;
/** Kafka error code NOT_ENOUGH_REPLICAS: retriable. */
const NOT_ENOUGH_REPLICAS = 19;

interface Received {
  member: number;
  partition: number;
  key: string | undefined;
  value: string;
  headers: Record<string, string>;
}

describe('Kafka stand-in with kafkajs', () => {
  /** Run after each test in reverse order: clients disconnect before their stand-in stops. */
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (let cleanup = cleanups.pop(); cleanup; cleanup = cleanups.pop())
      await cleanup().catch(() => undefined);
  });

  async function standin(opts?: KafkaStandinOptions): Promise<KafkaStandin> {
    const started = await startKafkaStandin(opts);
    cleanups.push(() => started.stop());
    return started;
  }

  function kafkaFor(cluster: KafkaStandin, extra: Partial<KafkaConfig> = {}): Kafka {
    return new Kafka({
      ...TEST_KAFKA_SETTINGS,
      clientId: 'standin-spec',
      brokers: cluster.brokers,
      ...extra,
    });
  }

  async function connected<T extends Producer | Consumer | ReturnType<Kafka['admin']>>(
    client: T,
  ): Promise<T> {
    cleanups.push(() => client.disconnect());
    await client.connect();
    return client;
  }

  /** Starts `members` consumers of one group together; each records what it receives and its assignment. */
  async function consumeGroup(kafka: Kafka, topic: string, members = 1) {
    const received: Received[] = [];
    const assignments = new Map<number, number[]>();
    const groupId = `group-${topic}`;
    await Promise.all(
      Array.from({ length: members }, async (_, member) => {
        const consumer = await connected(kafka.consumer({ ...TEST_CONSUMER_SETTINGS, groupId }));
        consumer.on(consumer.events.GROUP_JOIN, ({ payload }) =>
          assignments.set(member, payload.memberAssignment[topic] ?? []),
        );
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ partition, message }) => {
            received.push({
              member,
              partition,
              key: message.key?.toString(),
              value: message.value!.toString(),
              headers: decodeHeaders(message.headers),
            });
          },
        });
      }),
    );
    return { received, assignments };
  }

  it('produces and consumes keyed messages with headers across 4 partitions', async () => {
    const cluster = await standin({ topics: [{ name: 'orders', partitions: 4 }] });
    const kafka = kafkaFor(cluster);
    const producer = await connected(kafka.producer());
    const { received } = await consumeGroup(kafka, 'orders');

    const keys = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'];
    const sent = keys.flatMap((key) =>
      [0, 1, 2].map((i) => ({
        key,
        value: `${key}-${i}`,
        headers: { trace: `t-${key}-${i}`, kind: 'order' },
      })),
    );
    await producer.send({ topic: 'orders', messages: sent });

    await waitFor(() => received.length >= sent.length, { what: `${sent.length} messages consumed` });
    expect(received.map((m) => m.value).sort()).toEqual(sent.map((m) => m.value).sort());
    for (const message of received) {
      expect(message.headers).toEqual({ trace: `t-${message.value}`, kind: 'order' });
    }
    const partitionsOf = (key: string) =>
      new Set(received.filter((m) => m.key === key).map((m) => m.partition));
    for (const key of keys) {
      expect(partitionsOf(key).size).toBe(1);
      // Within its partition a key's messages keep their order.
      expect(received.filter((m) => m.key === key).map((m) => m.value)).toEqual(
        [0, 1, 2].map((i) => `${key}-${i}`),
      );
    }
    expect(new Set(received.map((m) => m.partition)).size).toBeGreaterThan(1);
  });

  it('gives the members of a 3-member group disjoint partitions and delivers each message once', async () => {
    // NOTE: through the group-sync proxy, as the test ground uses it with groups: the members join together,
    // and the mock coordinator fails one whose SyncGroup arrives after the leader's (group-sync.int-spec.ts).
    const cluster = await standin({
      brokers: 3,
      topics: [{ name: 'shared', partitions: 4 }],
      groupSyncProxy: true,
    });
    const kafka = kafkaFor(cluster);
    const { received, assignments } = await consumeGroup(kafka, 'shared', 3);

    await waitFor(() => assignments.size === 3, { what: 'all 3 members joined the group' });
    const owned = [...assignments.values()];
    expect(owned.every((partitions) => partitions.length > 0)).toBe(true);
    expect(owned.flat().sort()).toEqual([0, 1, 2, 3]);

    const producer = await connected(kafka.producer());
    const values = Array.from({ length: 40 }, (_, i) => `m${i}`);
    await producer.send({ topic: 'shared', messages: values.map((value) => ({ key: value, value })) });

    await waitFor(() => new Set(received.map((m) => m.value)).size === values.length, {
      what: 'all 40 messages consumed',
    });
    expect(received).toHaveLength(values.length);
    for (const message of received) expect(assignments.get(message.member)).toContain(message.partition);
  });

  it('lets the producer retry through a broker that is down until it is back up', async () => {
    const cluster = await standin({ brokers: 3, topics: [{ name: 'resilient', partitions: 3 }] });
    const sendFailures: string[] = [];
    const kafka = kafkaFor(cluster, {
      logLevel: logLevel.ERROR,
      logCreator:
        () =>
        ({ log }) => {
          if (log.message.startsWith('Failed to send messages')) sendFailures.push(log.message);
        },
    });
    const admin = await connected(kafka.admin());
    await cluster.setLeader('resilient', 0, 2);
    const leaders = async () =>
      (await admin.fetchTopicMetadata({ topics: ['resilient'] })).topics[0].partitions.find(
        (p) => p.partitionId === 0,
      )?.leader;
    expect(await leaders()).toBe(2);
    const producer = await connected(kafka.producer());

    await cluster.brokerDown(2);
    let settled = false;
    const sending = producer.send({
      topic: 'resilient',
      messages: [0, 1, 2].map((partition) => ({ partition, value: `p${partition}` })),
    });
    void sending.finally(() => (settled = true)).catch(() => undefined);
    await waitFor(() => sendFailures.some((message) => message.includes(cluster.brokers[1])), {
      what: 'a failed attempt to reach broker 2',
    });
    expect(settled).toBe(false);

    await cluster.brokerUp(2);
    await sending;
    const { received } = await consumeGroup(kafka, 'resilient');
    await waitFor(() => received.length >= 3, { what: '3 messages consumed' });
    expect(received.map((m) => m.value).sort()).toEqual(['p0', 'p1', 'p2']);
  });

  it('supports the idempotent producer (initProducerId needs the controller), also across a retry', async () => {
    const cluster = await standin({ topics: [{ name: 'exactly', partitions: 4 }] });
    const kafka = kafkaFor(cluster);
    const producer = await connected(kafka.producer({ idempotent: true, maxInFlightRequests: 1 }));
    const { received } = await consumeGroup(kafka, 'exactly');

    const values = Array.from({ length: 12 }, (_, i) => `e${i}`);
    await producer.send({
      topic: 'exactly',
      acks: -1,
      messages: values.slice(0, 6).map((value) => ({ key: value, value })),
    });
    await cluster.failRequests(PRODUCE, NOT_ENOUGH_REPLICAS, 1);
    await producer.send({
      topic: 'exactly',
      acks: -1,
      messages: values.slice(6).map((value) => ({ key: value, value })),
    });

    await waitFor(() => received.length >= values.length, { what: '12 messages consumed' });
    expect(received.map((m) => m.value).sort()).toEqual([...values].sort());
  });

  it('fails the next requests of an API with failRequests, and clearRequestErrors drops the rest', async () => {
    const cluster = await standin({ topics: [{ name: 'flaky', partitions: 1 }] });
    const kafka = kafkaFor(cluster);
    const admin = await connected(kafka.admin());
    const noRetry = await connected(kafka.producer({ retry: { retries: 0 } }));
    const retrying = await connected(kafka.producer());
    const produceRequests: string[] = [];
    retrying.on(retrying.events.REQUEST, ({ payload }) => {
      if (payload.apiName === 'Produce') produceRequests.push(payload.apiName);
    });
    const stored = async () => Number((await admin.fetchTopicOffsets('flaky'))[0].high);
    const send = (producer: Producer, value: string) =>
      producer.send({ topic: 'flaky', messages: [{ value }] });

    await cluster.failRequests(PRODUCE, NOT_ENOUGH_REPLICAS, 2);
    await expect(send(noRetry, 'a')).rejects.toThrow(/fewer in-sync replicas/);
    await send(retrying, 'b');
    expect(produceRequests).toHaveLength(2);
    expect(await stored()).toBe(1);

    await send(noRetry, 'c');
    expect(await stored()).toBe(2);

    await cluster.failRequests(PRODUCE, NOT_ENOUGH_REPLICAS, 5);
    await cluster.clearRequestErrors(PRODUCE);
    await send(noRetry, 'd');
    expect(await stored()).toBe(3);
  });

  it('rejects bad launcher arguments with an error naming the argument', async () => {
    await expect(startKafkaStandin({ brokers: 0 })).rejects.toThrow(/invalid --brokers "0"/);
    await expect(startKafkaStandin({ topics: [{ name: 'a/b', partitions: 2 }] })).rejects.toThrow(
      /invalid --topic "a\/b:2": topic name/,
    );
    await expect(startKafkaStandin({ topics: [{ name: 'ok', partitions: 0 }] })).rejects.toThrow(
      /invalid --topic "ok:0": partitions/,
    );
    const twice = { name: 'twice', partitions: 1 };
    await expect(startKafkaStandin({ topics: [twice, twice] })).rejects.toThrow(
      /"twice:1": .*already exists/,
    );

    const unknown = spawnSync(ensureBuilt(), ['--bogus'], { encoding: 'utf8' });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown argument "--bogus"/);
  });

  it('rejects bad commands with the reason and keeps serving', async () => {
    const cluster = await standin({ brokers: 2 });
    await expect(cluster.brokerDown(3)).rejects.toThrow(/unknown broker id "3" \(brokers are 1\.\.2\)/);
    await expect(cluster.setRtt(1, -1)).rejects.toThrow(/invalid ms "-1"/);
    await expect(cluster.failRequests(PRODUCE, NOT_ENOUGH_REPLICAS, 0)).rejects.toThrow(/invalid count "0"/);
    await expect(cluster.createTopic('spaced name', 1)).rejects.toThrow(/invalid argument "spaced name"/);
    await cluster.createTopic('fresh', 2);
    await expect(cluster.createTopic('fresh', 2)).rejects.toThrow(/already exists/);
    await cluster.setRtt(1, 0);

    await cluster.stop();
    await cluster.stop();
    await expect(cluster.brokerUp(1)).rejects.toThrow(/exited/);
  });

  it('runs from the CLI and exits when the process that started it is killed', async () => {
    const cli = spawn(
      process.execPath,
      ['-r', '@swc-node/register', path.join(__dirname, 'cli.ts'), '--brokers', '2'],
      {
        cwd: path.resolve(__dirname, '../../..'),
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    cleanups.push(() => killed(cli));
    const firstLine = await new Promise<string>((resolve, reject) => {
      let output = '';
      cli.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('\n')) resolve(output.split('\n')[0]);
      });
      cli.once('exit', (code) =>
        reject(new Error(`cli exited (${code}) before printing the bootstrap list`)),
      );
    });
    const brokers = firstLine.split(',');
    expect(brokers).toHaveLength(2);
    expect(await accepts(brokers[0])).toBe(true);

    cli.kill('SIGKILL');
    await waitFor(async () => !(await accepts(brokers[0])), { what: 'the stand-in to exit with its parent' });
  });
});

function decodeHeaders(headers: IHeaders | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([name, value]) => [name, String(value)]));
}

/** Whether a TCP connection to `host:port` is accepted. */
function accepts(address: string): Promise<boolean> {
  const [host, port] = address.split(':');
  return new Promise((resolve) => {
    const socket = connect({ host, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
