import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Kafka, type Producer } from 'kafkajs';
import { uniqueName } from '../../../test/support/ground';
import { freePort } from '../../launch/ports';
import { waitFor } from '../../../test/support/wait';
import { startKafka, type KafkaCluster } from '../cluster/cluster';
import { kafkaJars, KafkaJarsMissingError } from '../cluster/jars';
import { TEST_KAFKA_SETTINGS } from '../../../test/support/kafka-clients';

const ROOT = join(__dirname, '../../..');

const client = (cluster: KafkaCluster) =>
  new Kafka({ ...TEST_KAFKA_SETTINGS, clientId: 'launcher-spec', brokers: cluster.brokers });

/** Every message of `topic` from the beginning, read-committed, once `count` arrived. */
async function readAll(cluster: KafkaCluster, topic: string, count: number): Promise<string[]> {
  const consumer = client(cluster).consumer({ groupId: uniqueName('reader'), maxWaitTimeInMs: 100 });
  const values: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void values.push(message.value!.toString()) });
    await waitFor(() => values.length >= count, { timeoutMs: 30_000, what: `${count} messages of ${topic}` });
    return values;
  } finally {
    await consumer.disconnect();
  }
}

/** The leader node of each partition of `topic`, from a Metadata answer. */
async function leadersOf(cluster: KafkaCluster, topic: string): Promise<number[]> {
  const admin = client(cluster).admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    return topics[0].partitions.map((partition) => partition.leader);
  } finally {
    await admin.disconnect();
  }
}

/** Process ids whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ')'.
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

const gone = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
};

describe('Kafka test ground: one real broker', () => {
  let cluster: KafkaCluster;
  let producer: Producer;
  beforeAll(async () => {
    cluster = await startKafka();
    producer = client(cluster).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
  }, 90_000);
  afterAll(async () => {
    await producer?.disconnect();
    await cluster?.stop();
  }, 60_000);

  it('is Apache Kafka 4 answering produce, fetch and consumer groups on a free loopback port', async () => {
    expect(cluster.version).toMatch(/^4\.\d+\.\d+$/);
    expect(cluster.brokers).toEqual([expect.stringMatching(/^127\.0\.0\.1:\d+$/)]);
    const topic = uniqueName('hello');
    await cluster.createTopic({ name: topic, partitions: 2 });
    await producer.send({
      topic,
      acks: -1,
      messages: [
        { key: 'a', value: 'one' },
        { key: 'b', value: 'two' },
      ],
    });
    expect((await readAll(cluster, topic, 2)).sort()).toEqual(['one', 'two']);
  });

  it('restart(id) after a SIGKILL comes back on the same port with the committed data', async () => {
    const topic = uniqueName('durable');
    await cluster.createTopic({ name: topic, partitions: 1 });
    await producer.send({ topic, acks: -1, messages: [{ value: 'before the crash' }] });
    const [pid, brokers] = [cluster.pid(1)!, [...cluster.brokers]];
    await cluster.kill(1);
    expect(gone(pid)).toBe(true);
    await cluster.restart(1);
    expect(cluster.brokers).toEqual(brokers);
    expect(cluster.pid(1)).not.toBe(pid);
    await producer.send({ topic, acks: -1, messages: [{ value: 'after the restart' }] });
    expect(await readAll(cluster, topic, 2)).toEqual(['before the crash', 'after the restart']);
  }, 120_000);

  it('stop(id) ends the JVM with a controlled shutdown; restart(id) brings it back', async () => {
    const pid = cluster.pid(1)!;
    await cluster.stop(1);
    expect(gone(pid)).toBe(true);
    expect(cluster.pid(1)).toBeUndefined();
    await cluster.restart(1);
    expect(cluster.pid(1)).toBeGreaterThan(0);
  }, 120_000);

  it('pause(id) makes the broker answer nothing until resume(id)', async () => {
    const topic = uniqueName('paused');
    await cluster.createTopic({ name: topic, partitions: 1 });
    await cluster.pause(1);
    let sent = false;
    const send = producer
      .send({ topic, acks: -1, timeout: 30_000, messages: [{ value: 'held' }] })
      .then(() => (sent = true));
    try {
      // A metadata request of a fresh client times out while the JVM is stopped.
      const probe = new Kafka({
        ...TEST_KAFKA_SETTINGS,
        brokers: cluster.brokers,
        requestTimeout: 1_000,
        retry: { retries: 0 },
      });
      const admin = probe.admin();
      await expect(admin.connect().then(() => admin.describeCluster())).rejects.toThrow();
      await admin.disconnect();
      expect(sent).toBe(false);
    } finally {
      await cluster.resume(1);
    }
    await send;
    expect(await readAll(cluster, topic, 1)).toEqual(['held']);
  }, 120_000);
});

describe('Kafka test ground: start-up and clean-up', () => {
  it('names scripts/setup.sh when the jars were never resolved', () => {
    expect(() => kafkaJars(join(ROOT, 'no-such-dir'))).toThrow(KafkaJarsMissingError);
    expect(() => kafkaJars(join(ROOT, 'no-such-dir'))).toThrow(/run `bash scripts\/setup\.sh`/);
  });

  it('npm run demo without the jars stops with one line naming scripts/setup.sh, not a stack trace', async () => {
    const demo = spawnSync(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'scripts/demo.ts')], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, KAFKA_BROKERS: '', KAFKA_JARS_DIR: join(ROOT, 'no-such-dir') },
      timeout: 60_000,
    });
    expect(demo.status).toBe(1);
    expect(demo.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^demo failed: .*run `bash scripts\/setup\.sh`/),
    ]);
  }, 90_000);

  it('retries on other free ports when a port is taken', async () => {
    // Another program holds the port: it accepts and drops connections.
    const taken: Server = createServer((socket) => socket.destroy());
    const takenPort = await freePort();
    await new Promise<void>((resolve) => taken.listen(takenPort, '127.0.0.1', resolve));
    const picks = [takenPort];
    try {
      const cluster = await startKafka({ pickPort: async () => picks.shift() ?? freePort() });
      await cluster.stop();
      expect(cluster.brokers[0]).not.toBe(`127.0.0.1:${takenPort}`);
      expect(picks).toEqual([]);
    } finally {
      taken.close();
    }
  }, 120_000);

  it('a broker that cannot start fails with its own log tail', async () => {
    const bad = startKafka({ config: { 'authorizer.class.name': 'no.such.Authorizer' } });
    await expect(bad).rejects.toThrow(/Kafka node 1 exited[\s\S]*no\.such\.Authorizer/);
  }, 120_000);

  it('a broker that does not answer in time fails with the time limit and its log tail', async () => {
    await expect(startKafka({ startTimeoutMs: 500 })).rejects.toThrow(
      /did not answer Metadata within 500 ms\.\nnode 1: /,
    );
  }, 60_000);

  it('leaves no JVM behind when the process that started it is SIGKILLed', async () => {
    const cli = spawn(process.execPath, ['-r', '@swc-node/register', join(__dirname, '../cli.ts')], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const firstLine = await new Promise<string>((resolve) =>
      createInterface({ input: cli.stdout! }).once('line', resolve),
    );
    expect(firstLine).toMatch(/^127\.0\.0\.1:\d+$/);
    const jvms = childrenOf(cli.pid!);
    expect(jvms).toHaveLength(1);
    cli.kill('SIGKILL');
    await waitFor(() => jvms.every(gone), { timeoutMs: 10_000, what: 'the JVM to die with its parent' });
  }, 120_000);
});

describe('Kafka test ground: three brokers', () => {
  it('keeps a replicated topic writable while one broker is down, and takes it back', async () => {
    const cluster = await startKafka({ brokers: 3, topics: [{ name: 'replicated', partitions: 3 }] });
    const producer = client(cluster).producer({ idempotent: true, maxInFlightRequests: 1 });
    try {
      expect(cluster.brokers).toHaveLength(3);
      await producer.connect();
      await producer.send({ topic: 'replicated', acks: -1, messages: [{ key: 'k', value: 'one' }] });
      await cluster.kill(2);
      // The controller fences the dead broker after broker.session.timeout.ms and moves its leaderships;
      // a send before that only retries against it.
      await waitFor(async () => !(await leadersOf(cluster, 'replicated')).includes(2), {
        timeoutMs: 30_000,
        what: 'every partition led by a live broker',
      });
      await producer.send({ topic: 'replicated', acks: -1, messages: [{ key: 'k', value: 'two' }] });
      await cluster.restart(2);
      await producer.send({ topic: 'replicated', acks: -1, messages: [{ key: 'k', value: 'three' }] });
      expect(await readAll(cluster, 'replicated', 3)).toEqual(['one', 'two', 'three']);
    } finally {
      await producer.disconnect();
      await cluster.stop();
    }
  }, 180_000);
});
