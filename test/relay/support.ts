/**
 * Helpers for the relay's integration specs: boot the module in-process (or as a child process),
 * read topics back, and inspect checkpoints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { Test } from '@nestjs/testing';
import type { INestApplicationContext } from '@nestjs/common';
import { Kafka, type Consumer, type KafkaMessage } from 'kafkajs';
import { MongoClient } from 'mongodb';
import {
  ChangeStreamModule,
  ChangeStreamStatus,
  decodeChangeEvent,
  type ChangeStreamModuleOptions,
} from 'nest-change-stream';
import {
  subscribeFromBeginning,
  TEST_CONSUMER_SETTINGS,
  TEST_KAFKA_SETTINGS,
} from '../support/kafka-clients';
import { uniqueName, type Ground } from '../support/ground';
import { waitFor } from '../support/wait';

/** Fast timings for tests: a 2 s lease, checkpoints at least every 100 ms, short awaits and backoffs. */
export const FAST = {
  lease: { ttlMs: 2_000, retryIntervalMs: 100, retryJitterMs: 100 },
  relay: {
    maxAwaitTimeMs: 200,
    checkpointIntervalMs: 100,
    backoff: { initialDelayMs: 50, maxDelayMs: 500 },
    shutdownTimeoutMs: 2_000,
  },
} satisfies Partial<ChangeStreamModuleOptions>;

/** Module options for a relay-only replica of `ground`. */
export function relayOptions(
  ground: Ground,
  extra: Partial<ChangeStreamModuleOptions> = {},
): ChangeStreamModuleOptions {
  return {
    worker: false,
    mongo: { uri: ground.mongoUrl },
    kafka: { brokers: ground.kafkaBrokers, ...TEST_KAFKA_SETTINGS },
    ...(ground.redisUrls.length ? { redis: { urls: ground.redisUrls } } : {}),
    ...FAST,
    ...extra,
  };
}

/** A running in-process relay replica. */
export interface RelayApp {
  app: INestApplicationContext;
  status(): ReturnType<ChangeStreamStatus['snapshot']>;
  close(): Promise<void>;
}

/** Boots ChangeStreamModule in this process (shutdown hooks run on close()). */
export async function startRelay(options: ChangeStreamModuleOptions): Promise<RelayApp> {
  const moduleRef = await Test.createTestingModule({
    imports: [ChangeStreamModule.forRoot(options)],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: process.env.LISTENER_LOGS ? undefined : false });
  await app.init();
  const status = app.get(ChangeStreamStatus);
  let closed: Promise<void> | undefined;
  return { app, status: () => status.snapshot(), close: () => (closed ??= app.close()) };
}

/** A message read back from Kafka, decoded. */
export interface ReadMessage {
  topic: string;
  partition: number;
  eventId: string;
  epoch: number;
  key: string;
  event: Record<string, any>;
  headers: Record<string, string>;
  /** The message value as Kafka holds it (canonical EJSON text). */
  rawValue: string;
}

/** Collects every message of `topics` from the beginning, decoded; `stop()` disconnects. */
export class TopicReader {
  readonly messages: ReadMessage[] = [];
  private consumer?: Consumer;

  constructor(
    private readonly brokers: string[],
    private readonly topics: string[],
  ) {}

  async start(): Promise<this> {
    const kafka = new Kafka({ ...TEST_KAFKA_SETTINGS, clientId: 'topic-reader', brokers: this.brokers });
    const consumer = kafka.consumer({ ...TEST_CONSUMER_SETTINGS, groupId: uniqueName('reader') });
    this.consumer = consumer;
    await consumer.connect();
    await subscribeFromBeginning(consumer, this.topics);
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) =>
        void this.messages.push(decode(topic, partition, message)),
    });
    return this;
  }

  /** Waits until `check(messages)` holds. */
  waitFor(check: (messages: ReadMessage[]) => boolean, what: string, timeoutMs = 30_000): Promise<boolean> {
    return waitFor(() => check(this.messages), { timeoutMs, what });
  }

  /** Event ids of the document events (insert/update/replace/delete), in arrival order. */
  documentIds(): string[] {
    return this.messages.filter((m) => m.event.documentKey).map((m) => String(m.event.documentKey._id));
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

function decode(topic: string, partition: number, message: KafkaMessage): ReadMessage {
  const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
  const decoded = decodeChangeEvent(message.value, message.headers);
  return {
    topic,
    partition,
    eventId: decoded.eventId,
    epoch: Number(decoded.epoch),
    key: String(message.key),
    event: decoded.event,
    headers,
    rawValue: String(message.value),
  };
}

/** A connected MongoClient for the test's own reads and writes. */
export async function connectMongo(ground: Ground): Promise<MongoClient> {
  return new MongoClient(ground.mongoUrl, { serverSelectionTimeoutMS: 5_000 }).connect();
}

/** The checkpoint document of a stream (in the default library database). */
export function readCheckpoint(client: MongoClient, stream: string) {
  return client
    .db('nest_change_stream')
    .collection<{ _id: string; [key: string]: any }>('change_stream_checkpoints')
    .findOne({ _id: stream });
}

/** Environment of the fixture app (test/relay/fixtures/relay-app.ts). */
export interface FixtureEnv {
  MONGO_URL: string;
  KAFKA_BROKERS: string;
  REDIS_URLS?: string;
  STREAM_DB: string;
  STREAM_COLLECTION: string;
  LEASE_TTL_MS?: string;
  RELAY_DELIVERY?: 'exactly-once' | 'at-least-once';
  CHECKPOINT_INTERVAL_MS?: string;
  PRODUCER_THREAD?: 'true' | 'false';
}

/** A relay replica in a child process (for SIGKILL / SIGSTOP / SIGTERM tests). */
export class RelayProcess {
  private output = '';
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(env: FixtureEnv) {
    const fixture = path.resolve(__dirname, 'fixtures/relay-app.ts');
    this.child = spawn(process.execPath, ['-r', '@swc-node/register', fixture], {
      cwd: path.resolve(__dirname, '../..'),
      env: { ...process.env, ...env, SWC_NODE_PROJECT: path.resolve(__dirname, '../../tsconfig.json') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (chunk) => (this.output += chunk));
    this.child.stderr!.on('data', (chunk) => (this.output += chunk));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** Everything the process printed (its status lines and logs). */
  get log(): string {
    return this.output;
  }

  /** The last status line the fixture printed (`STATUS {json}`), parsed. */
  lastStatus(): { role: string; epoch: number | null; published: boolean } | undefined {
    const lines = this.output.split('\n').filter((line) => line.startsWith('STATUS '));
    return lines.length ? JSON.parse(lines[lines.length - 1].slice(7)) : undefined;
  }

  waitForRole(role: string, timeoutMs = 20_000): Promise<boolean> {
    return waitFor(() => this.lastStatus()?.role === role, {
      timeoutMs,
      what: `relay pid ${this.child.pid} to be ${role}; output:\n${this.output.slice(-2_000)}`,
    });
  }

  /** Waits until this replica has published at least one event. */
  waitForPublishing(timeoutMs: number): Promise<boolean> {
    return waitFor(() => this.lastStatus()?.published, {
      timeoutMs,
      what: `relay pid ${this.child.pid} to publish; output:\n${this.output.slice(-2_000)}`,
    });
  }

  signal(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  /** SIGKILLs the process if it still runs (cleanup after failures). */
  async kill(): Promise<void> {
    this.signal('SIGCONT');
    this.signal('SIGKILL');
    await this.exited;
  }
}
