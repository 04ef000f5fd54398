import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CompressionTypes, KafkaConfig, ProducerConfig } from 'kafkajs';
import type { EventPublisher, TransactionalSettings } from './event-publisher';
import { joinBatch, type CheckpointRecord, type PackedBatch } from './outgoing-message';

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
 * A request to the producer thread (`send` carries its messages joined, see {@link joinBatch};
 * with `checkpoint`, the last of them is the checkpoint record of the transaction).
 */
export type ProducerThreadRequest = { id: number } & (
  | { op: 'connect' | 'fence' | 'reset' | 'disconnect' }
  | { op: 'send'; packed: ArrayBuffer; checkpoint: boolean }
);

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
    const packed = joinBatch(batch, checkpoint);
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
      // NOTE: the thread takes the process's Node options (--cpu-prof, heap limits); run from
      // TypeScript sources (tests, ts scripts), it also needs the loader.
      execArgv:
        extname(__filename) === '.ts'
          ? [...process.execArgv, '-r', require.resolve('@swc-node/register')]
          : undefined,
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
