/**
 * The files one test broker starts from: `server.properties` for a KRaft node that is both broker
 * and controller, and a log4j2 configuration that writes the broker's log to a file beside it.
 */

import { randomBytes } from 'node:crypto';

/**
 * A cluster id as Kafka's storage tool takes it: 16 random bytes, base64url without padding. One that
 * starts with "-" would be read as an option on the command line, so (as Kafka's own Uuid does) it is
 * drawn again.
 */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** Where one node of the cluster listens and keeps its data. */
export interface NodeLayout {
  readonly id: number;
  /** The client (PLAINTEXT) port. */
  readonly port: number;
  /** The KRaft controller port. */
  readonly controllerPort: number;
  /** The node's own folder: properties, log, and `data/` (its log.dirs). */
  readonly dir: string;
}

/**
 * Settings for tests on a 2-core machine. Every one is an ordinary broker setting a user could set
 * too; none changes what a client sees of the protocol.
 */
export function testSettings(nodes: number): Record<string, string | number | boolean> {
  const replicas = Math.min(nodes, 3);
  return {
    // Clients create topics on first use (the library's producers allow it), like the demo expects.
    'auto.create.topics.enable': true,
    'num.partitions': 4,
    'default.replication.factor': replicas,
    'min.insync.replicas': 1,
    'offsets.topic.replication.factor': replicas,
    'transaction.state.log.replication.factor': replicas,
    'transaction.state.log.min.isr': Math.min(replicas, 2),
    // Internal topics with a few partitions start in milliseconds instead of creating 50.
    'offsets.topic.num.partitions': 4,
    'transaction.state.log.num.partitions': 4,
    // A group's first join is not held back waiting for more members.
    'group.initial.rebalance.delay.ms': 0,
    'group.min.session.timeout.ms': 1_000,
    // A killed node of a 3-node cluster is fenced in seconds, so its partitions move quickly.
    'broker.heartbeat.interval.ms': 500,
    'broker.session.timeout.ms': 3_000,
    'controlled.shutdown.enable': true,
    // Small thread pools and buffers: the broker shares two cores with everything else.
    'num.network.threads': 2,
    'num.io.threads': 4,
    'background.threads': 2,
    'num.recovery.threads.per.data.dir': 1,
    'log.cleaner.threads': 1,
    'log.cleaner.dedupe.buffer.size': 8 * 1024 * 1024,
    'log.cleaner.backoff.ms': 1_000,
  };
}

/** `server.properties` for `node` of a cluster whose controllers are `nodes`. */
export function serverProperties(
  node: NodeLayout,
  nodes: readonly NodeLayout[],
  overrides: Readonly<Record<string, string | number | boolean>> = {},
): string {
  const settings: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': node.id,
    listeners: `PLAINTEXT://127.0.0.1:${node.port},CONTROLLER://127.0.0.1:${node.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${node.port}`,
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name': 'PLAINTEXT',
    'controller.listener.names': 'CONTROLLER',
    'controller.quorum.voters': nodes.map((n) => `${n.id}@127.0.0.1:${n.controllerPort}`).join(','),
    'log.dirs': `${node.dir}/data`,
    ...testSettings(nodes.length),
    ...overrides,
  };
  return Object.entries(settings)
    .map(([key, value]) => `${key}=${value}`)
    .join('\n');
}

/** log4j2 (properties format): everything at INFO into `<dir>/broker.log`, nothing on the console. */
export function log4jProperties(dir: string): string {
  return [
    'appender.file.type=File',
    'appender.file.name=file',
    `appender.file.fileName=${dir}/broker.log`,
    'appender.file.layout.type=PatternLayout',
    'appender.file.layout.pattern=[%d] %p %m (%c)%n',
    'rootLogger.level=INFO',
    'rootLogger.appenderRef.file.ref=file',
  ].join('\n');
}
