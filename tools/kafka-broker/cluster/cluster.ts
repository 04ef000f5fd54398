/**
 * The Kafka test ground: real Apache Kafka nodes (KRaft, each broker + controller) started as JVMs on
 * free loopback ports with fresh storage, reachable once they answer Metadata, with fault controls.
 *
 *   const kafka = await startKafka({ brokers: 3, topics: [{ name: 'orders', partitions: 4 }] });
 *   await kafka.kill(2); ...; await kafka.restart(2);
 *   await kafka.stop();
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type Admin, type ITopicConfig } from 'kafkajs';
import { freePort, isAddressInUse } from '../../launch/ports';
import { newClusterId, type NodeLayout } from './broker-config';
import { BrokerNode } from './broker-node';
import { kafkaJars } from './jars';

/** A topic to create: name, partitions, and topic-level settings such as `max.message.bytes`. */
export interface KafkaTopic {
  name: string;
  partitions: number;
  config?: Record<string, string>;
}

/** Options of {@link startKafka}. */
export interface KafkaClusterOptions {
  /** Number of nodes, ids 1..N, each broker and controller. Default 1; 3 where a test needs replicas. */
  brokers?: number;
  /** Topics created before `startKafka` resolves. Others are created on first use (4 partitions). */
  topics?: KafkaTopic[];
  /** Broker settings over the test defaults of `broker-config.ts`, e.g. `{ 'log.segment.ms': '1000' }`. */
  config?: Record<string, string>;
  /** How long every node may take to answer Metadata, at start and after `restart`. Default 60 000 ms. */
  startTimeoutMs?: number;
  /** Where ports come from (tests of the launcher give taken ones). Default: a free loopback port. */
  pickPort?: () => Promise<number>;
}

/** A running cluster. Node ids are 1..N; every fault control waits until it took effect. */
export interface KafkaCluster {
  /** Bootstrap addresses, `127.0.0.1:port`, one per node in id order. */
  readonly brokers: string[];
  /** Apache Kafka's version, e.g. `4.1.1`. */
  readonly version: string;
  /** The JVM's process id of node `id`, while it runs. */
  pid(id: number): number | undefined;
  /**
   * Without `id`: kills every JVM of the cluster and deletes its storage (safe to call twice).
   * With `id`: SIGTERM to that node (a controlled shutdown), resolved once its JVM exited.
   */
  stop(id?: number): Promise<void>;
  /** SIGKILL to node `id`, resolved once its JVM exited: a crash. */
  kill(id: number): Promise<void>;
  /** SIGSTOP to node `id`: it holds its connections and answers nothing, as a hung or partitioned broker. */
  pause(id: number): Promise<void>;
  /** SIGCONT to a paused node. */
  resume(id: number): Promise<void>;
  /**
   * Starts node `id` again on the same ports and storage (stopping it first, gracefully, if it still
   * runs) and resolves once it answers Metadata: committed data survives.
   */
  restart(id: number): Promise<void>;
  /** Creates a topic and waits for its partition leaders. */
  createTopic(topic: KafkaTopic): Promise<void>;
}

const DEFAULT_START_TIMEOUT_MS = 60_000;
const PORT_ATTEMPTS = 5;
const DIR_PREFIX = 'kafka-test-';

/**
 * Starts a cluster (format, start, wait for Metadata, create topics). Ports taken meanwhile are
 * retried on other free ports. Every JVM dies with this process, even when it is SIGKILLed.
 */
export async function startKafka(options: KafkaClusterOptions = {}): Promise<KafkaCluster> {
  const jars = kafkaJars();
  removeAbandonedStorage();
  for (let attempt = 1; ; attempt++) {
    const cluster = new Cluster(options, jars.version);
    try {
      await cluster.start(jars);
      return cluster;
    } catch (error) {
      await cluster.stop();
      if (!isAddressInUse(error) || attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}

class Cluster implements KafkaCluster {
  readonly brokers: string[] = [];
  private readonly nodes: BrokerNode[] = [];
  private readonly root = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  private readonly startTimeoutMs: number;

  constructor(
    private readonly options: KafkaClusterOptions,
    readonly version: string,
  ) {
    this.startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    writeFileSync(join(this.root, 'owner.pid'), String(process.pid));
  }

  async start(jars: ReturnType<typeof kafkaJars>): Promise<void> {
    const layouts = await this.layouts(this.options.brokers ?? 1);
    this.nodes.push(...layouts.map((layout) => new BrokerNode(layout, jars)));
    this.brokers.push(...layouts.map((layout) => `127.0.0.1:${layout.port}`));
    const clusterId = newClusterId();
    await Promise.all(this.nodes.map((node) => node.format(clusterId, layouts, this.options.config ?? {})));
    this.nodes.forEach((node) => node.start());
    await this.whenAnswering(this.nodes);
    for (const topic of this.options.topics ?? []) await this.createTopic(topic);
  }

  pid(id: number): number | undefined {
    return this.node(id).pid;
  }

  async stop(id?: number): Promise<void> {
    if (id !== undefined) return this.node(id).halt(true);
    await Promise.all(this.nodes.map((node) => node.halt(false)));
    rmSync(this.root, { recursive: true, force: true });
  }

  kill(id: number): Promise<void> {
    return this.node(id).halt(false);
  }

  async pause(id: number): Promise<void> {
    this.node(id).signal('SIGSTOP');
  }

  async resume(id: number): Promise<void> {
    this.node(id).signal('SIGCONT');
  }

  async restart(id: number): Promise<void> {
    const node = this.node(id);
    await node.halt(true);
    node.start();
    await this.whenAnswering([node]);
  }

  createTopic({ name, partitions, config = {} }: KafkaTopic): Promise<void> {
    const configEntries = Object.entries(config).map(([key, value]) => ({ name: key, value }));
    const topic: ITopicConfig = { topic: name, numPartitions: partitions, configEntries };
    return withAdmin(this.brokers, async (admin) => {
      await admin.createTopics({ topics: [topic], waitForLeaders: true, timeout: this.startTimeoutMs });
    });
  }

  private node(id: number): BrokerNode {
    const node = this.nodes.find((n) => n.id === id);
    if (!node) throw new Error(`No Kafka node ${id}: this cluster has nodes 1..${this.nodes.length}`);
    return node;
  }

  private async layouts(count: number): Promise<NodeLayout[]> {
    const pick = this.options.pickPort ?? (() => freePort());
    const layouts: NodeLayout[] = [];
    for (let id = 1; id <= count; id++) {
      const [port, controllerPort] = [await pick(), await pick()];
      layouts.push({ id, port, controllerPort, dir: join(this.root, `node-${id}`) });
    }
    return layouts;
  }

  /**
   * Resolves once every node in `expected` is listed by a Metadata answer. Rejects with the node's
   * log tail when one exits first, or with every expected node's tail at the time limit.
   */
  private async whenAnswering(expected: BrokerNode[]): Promise<void> {
    const ids = expected.map((node) => node.id);
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const exits = expected.map(async (node) => {
      const error = await node.exited();
      if (!done) throw error;
    });
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const tails = expected.map((node) => `node ${node.id}: ${node.logTail()}`).join('\n');
        reject(
          new Error(
            `Kafka node(s) ${ids} did not answer Metadata within ${this.startTimeoutMs} ms.\n${tails}`,
          ),
        );
      }, this.startTimeoutMs);
    });
    try {
      await Promise.race([pollMetadata(this.brokers, ids, () => done), ...exits, deadline]);
    } finally {
      done = true;
      clearTimeout(timer);
    }
  }
}

/** Asks for Metadata every 200 ms until it lists every node of `ids` (or `cancelled()`). */
async function pollMetadata(brokers: string[], ids: number[], cancelled: () => boolean): Promise<void> {
  while (!cancelled()) {
    const describe = async (admin: Admin) => (await admin.describeCluster()).brokers;
    const listed = await withAdmin(brokers, describe, 0).catch(() => []);
    if (ids.every((id) => listed.some((broker) => broker.nodeId === id))) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function withAdmin<T>(brokers: string[], use: (admin: Admin) => Promise<T>, retries = 5): Promise<T> {
  const kafka = new Kafka({
    brokers,
    clientId: 'kafka-test-ground',
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1_000,
    retry: { retries, initialRetryTime: 100 },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Deletes the storage of clusters whose owning process is gone (it was SIGKILLed before its stop()). */
function removeAbandonedStorage(): void {
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith(DIR_PREFIX))) {
    const dir = join(tmpdir(), name);
    const owner = existsSync(join(dir, 'owner.pid'))
      ? Number(readFileSync(join(dir, 'owner.pid'), 'utf8'))
      : 0;
    if (owner && !isAlive(owner)) rmSync(dir, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
