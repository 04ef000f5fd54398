import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CompressionTypes, KafkaConfig, ProducerConfig } from 'kafkajs';
import type { EventPublisher } from './event-publisher';
import type { TransactionalSettings } from './kafka-publisher';
import type { CheckpointRecord, OutgoingMessage, PackedBatch } from './outgoing-message';

/** How long a graceful disconnect of the producer thread may take before the thread is terminated. */
const DISCONNECT_TIMEOUT_MS = 5_000;

/** What the producer thread is started with (structured-cloneable: no functions, no instances). */
export interface ProducerThreadData {
  kafka: KafkaConfig;
  producer?: Omit<ProducerConfig, 'idempotent' | 'maxInFlightRequests' | 'transactionalId'>;
  compression?: CompressionTypes;
  /** The stream's transactional settings (relay.delivery 'exactly-once'); absent: idempotent only. */
  transactional?: TransactionalSettings | null;
}

/**
 * A request to the producer thread (`send` carries its messages packed, see {@link packMessages};
 * with `checkpoint`, the last of them is the checkpoint record of the transaction).
 */
export type ProducerThreadRequest = { id: number } & (
  | { op: 'connect' | 'fence' | 'reset' | 'disconnect' }
  | { op: 'send'; packed: ArrayBuffer; checkpoint: boolean }
);

/** A message as the producer thread sends it: key, value and header values as bytes. */
export interface PackedMessage {
  topic: string;
  key: Buffer;
  value: Buffer;
  headers: Record<string, Buffer>;
}

/**
 * Packs messages into bytes that move to the producer thread without a copy: per message the topic,
 * key, value and each header as length-prefixed UTF-8. Cheaper than cloning thousands of strings,
 * and kafkajs then writes the bytes as they are. {@link joinParts} puts packed parts behind a count.
 */
export function packMessages(messages: readonly OutgoingMessage[]): Buffer {
  let size = 0;
  for (const m of messages) {
    size += 14 + Buffer.byteLength(m.topic) + Buffer.byteLength(m.key) + Buffer.byteLength(m.value);
    for (const name in m.headers) size += 8 + Buffer.byteLength(name) + Buffer.byteLength(m.headers[name]);
  }
  const buffer = Buffer.allocUnsafe(size);
  let at = 0;
  const put = (text: string) => {
    const length = buffer.write(text, at + 4);
    buffer.writeUInt32LE(length, at);
    at += 4 + length;
  };
  for (const m of messages) {
    put(m.topic);
    put(m.key);
    put(m.value);
    const names = Object.keys(m.headers);
    at = buffer.writeUInt16LE(names.length, at);
    for (const name of names) {
      put(name);
      put(m.headers[name]);
    }
  }
  return at === size ? buffer : buffer.subarray(0, at);
}

/** One transferable buffer: the message count, then the packed parts in order. */
export function joinParts(batch: PackedBatch): ArrayBuffer {
  let size = 4;
  for (const part of batch.parts) size += part.length;
  const joined = Buffer.allocUnsafeSlow(size);
  let at = joined.writeUInt32LE(batch.count, 0);
  for (const part of batch.parts) at += part.copy(joined, at);
  return joined.buffer as ArrayBuffer;
}

/** The inverse of {@link joinParts}; keys, values and header values are views of `packed` (no copies). */
export function unpackMessages(packed: ArrayBuffer): PackedMessage[] {
  const buffer = Buffer.from(packed);
  let at = 4;
  const bytes = () => {
    const length = buffer.readUInt32LE(at);
    const view = buffer.subarray(at + 4, at + 4 + length);
    at += 4 + length;
    return view;
  };
  const messages: PackedMessage[] = new Array<PackedMessage>(buffer.readUInt32LE(0));
  for (let i = 0; i < messages.length; i++) {
    const topic = bytes().toString();
    const key = bytes();
    const value = bytes();
    const headers: Record<string, Buffer> = {};
    const count = buffer.readUInt16LE(at);
    at += 2;
    for (let h = 0; h < count; h++) headers[bytes().toString()] = bytes();
    messages[i] = { topic, key, value, headers };
  }
  return messages;
}

/** The producer thread's answer to one request. */
export type ProducerThreadReply =
  | { id: number; ok: true }
  | {
      id: number;
      ok: false;
      error: { name: string; message: string; retriable?: boolean; type?: string };
    };

/**
 * An error thrown on the producer thread, rethrown here with its name, message, `retriable` flag and
 * kafkajs protocol error `type` (e.g. `MESSAGE_TOO_LARGE`), so it is classified as on this thread.
 */
export class ProducerThreadError extends Error {
  constructor(
    name: string,
    message: string,
    readonly retriable?: boolean,
    readonly type?: string,
  ) {
    super(message);
    this.name = name;
  }
}

/**
 * The name of the first setting in `data` that cannot move to another thread (a function, a class
 * instance such as a logCreator or an oauthBearerProvider), or null when all of it can.
 */
export function unclonableSetting(data: ProducerThreadData): string | null {
  for (const [section, value] of [
    ['kafka', data.kafka],
    ['kafka.producer', data.producer ?? {}],
  ] as const) {
    for (const [key, setting] of Object.entries(value)) {
      try {
        structuredClone(setting);
      } catch {
        return section === 'kafka' ? `kafka.${key}` : `${section}.${key}`;
      }
    }
  }
  return null;
}

/**
 * The relay's producer on its own thread: the relay thread reads MongoDB and encodes events, this
 * thread runs kafkajs (record encoding, CRCs, the network), so the two work in parallel. Same
 * guarantees as {@link KafkaPublisher}, which runs inside: `send` resolves only after Kafka
 * acknowledged every message. Started on `connect`, stopped on `disconnect` (one per leadership term).
 */
export class ThreadedKafkaPublisher implements EventPublisher {
  private worker: Worker | null = null;
  /** Set by {@link abort}: no thread is started again. */
  private aborted = false;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();

  constructor(private readonly data: ProducerThreadData) {}

  connect(): Promise<void> {
    return this.request({ op: 'connect' });
  }

  fence(): Promise<void> {
    return this.request({ op: 'fence' });
  }

  send(batch: PackedBatch, checkpoint?: CheckpointRecord): Promise<void> {
    if (batch.count === 0 && !checkpoint) return Promise.resolve();
    const packed = joinParts(
      checkpoint ? { count: batch.count + 1, parts: [...batch.parts, packMessages([checkpoint])] } : batch,
    );
    return this.request({ op: 'send', packed, checkpoint: !!checkpoint }, [packed]);
  }

  reset(): Promise<void> {
    return this.worker ? this.request({ op: 'reset' }) : Promise.resolve();
  }

  /** Terminates the thread at once: its sockets close, and pending sends reject ("exited"). */
  async abort(): Promise<void> {
    this.aborted = true;
    const worker = this.worker;
    this.worker = null;
    await worker?.terminate();
  }

  async disconnect(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    // NOTE: bounded, so that a hung broker connection cannot hold a step-down; terminating the
    // thread drops its sockets either way.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.request({ op: 'disconnect' }).catch(() => undefined),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, DISCONNECT_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    this.worker = null;
    await worker.terminate();
  }

  private request(
    request:
      | { op: 'connect' | 'fence' | 'reset' | 'disconnect' }
      | { op: 'send'; packed: ArrayBuffer; checkpoint: boolean },
    transfer: ArrayBuffer[] = [],
  ): Promise<void> {
    if (this.aborted)
      return Promise.reject(new ProducerThreadError('ProducerThreadError', 'producer stopped'));
    const worker = this.started();
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ ...request, id } as ProducerThreadRequest, transfer);
    });
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(join(__dirname, `producer-thread.worker${extname(__filename)}`), {
      workerData: this.data,
      // NOTE: run from TypeScript sources (tests, ts scripts), the thread needs the same loader.
      execArgv: extname(__filename) === '.ts' ? ['-r', require.resolve('@swc-node/register')] : [],
    });
    worker.on('message', (reply: ProducerThreadReply) => {
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiter.resolve();
      else
        waiter.reject(
          new ProducerThreadError(
            reply.error.name,
            reply.error.message,
            reply.error.retriable,
            reply.error.type,
          ),
        );
    });
    const fail = (error: Error) => {
      if (this.worker === worker) this.worker = null;
      for (const waiter of this.pending.values()) waiter.reject(error);
      this.pending.clear();
    };
    worker.on('error', (error) =>
      fail(new ProducerThreadError('ProducerThreadError', `producer thread failed: ${error.message}`)),
    );
    worker.on('exit', (code) =>
      fail(new ProducerThreadError('ProducerThreadError', `producer thread exited (code ${code})`)),
    );
    this.worker = worker;
    return worker;
  }
}
