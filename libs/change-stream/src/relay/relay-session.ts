import type { LoggerService } from '@nestjs/common';
import { FencedOutError } from '../errors/fenced-out.error';
import { KafkaRefusedError } from '../errors/kafka-refused.error';
import type { RelayStats } from '../health/relay-stats';
import type { ResolvedChangeStreamOptions } from '../interfaces/change-stream-options.interface';
import { MESSAGES } from '../change-stream.messages';
import type { EventPublisher } from '../publisher/event-publisher';
import { unretriableKafkaError } from '../publisher/kafka-errors';
import type { BatchLimits } from '../publisher/kafka-limits';
import type { PackedBatch } from '../publisher/outgoing-message';
import { backoffDelay, sleep } from '../utils/timers';
import type { CheckpointStore, StreamPosition } from './checkpoint.store';
import type { ExactlyOnceRelay } from './exactly-once';
import { InFlightBuffer, type RelayItem } from './in-flight-buffer';

/** Something that fills the buffer in order until it is done or `signal` aborts (a change stream, a snapshot scan). */
export interface RelaySource {
  run(buffer: InFlightBuffer, signal: AbortSignal): Promise<void>;
}

/** What a session needs from its leadership term. */
export interface SessionContext {
  stream: string;
  relay: ResolvedChangeStreamOptions['relay'];
  publisher: EventPublisher;
  checkpoints: CheckpointStore;
  epoch: number;
  stats: RelayStats;
  logger: LoggerService;
  /** The largest batch Kafka takes (read at the start of the term): batches stay below it. */
  limits: BatchLimits;
  /**
   * Checked synchronously before every send: false once the lease validity (minus the safety
   * margin) has passed, even if the lease watchdog has not run yet (a process resumed after a pause).
   */
  stillLeader(): boolean;
  /** Exactly-once delivery: each batch is one transaction with the stream's checkpoint record. */
  exactlyOnce?: ExactlyOnceRelay | null;
}

/**
 * Relays one source to Kafka during one leadership term: the source reads into a bounded buffer;
 * the pump sends the oldest items as one batch, waits for Kafka's acknowledgement, then (at most
 * every `checkpointIntervalMs`) checkpoints the position after the last acknowledged item. A
 * checkpoint therefore never passes an unacknowledged event: a crash replays, never skips.
 *
 * - Term lost (`term` aborts): reading and sending stop at once; nothing more is written.
 * - `drain()` (graceful shutdown): reading stops; what was read is flushed and checkpointed.
 * - A rejected checkpoint (FencedOutError) stops everything and is rethrown.
 * - A failed source (history lost, ...) is rethrown after what it read was flushed and checkpointed.
 * - Batches hold at most `relay.batchSize` events and `limits.maxBatchBytes` record bytes; a batch
 *   Kafka refuses for good (too large, invalid topic, not authorized) throws KafkaRefusedError.
 */
export class RelaySession {
  private readonly buffer: InFlightBuffer;
  private readonly reading = new AbortController();
  private readonly sending = new AbortController();
  private saved: StreamPosition;
  private acked: StreamPosition;
  /** Exactly-once: the position the checkpoint topic holds (committed with the last transaction). */
  private committed: StreamPosition;
  private lastSaveAt = 0;
  private drainTimer?: NodeJS.Timeout;
  private finished = false;

  constructor(
    private readonly ctx: SessionContext,
    private readonly term: AbortSignal,
    start: StreamPosition,
  ) {
    this.buffer = new InFlightBuffer(
      ctx.relay.maxInFlightEvents,
      ctx.relay.maxInFlightBytes,
      (events, bytes) => ctx.stats.inFlight(events, bytes, this.buffer.oldestReadAt),
    );
    this.saved = this.acked = this.committed = start;
  }

  /** The position after the last item Kafka acknowledged. */
  get position(): StreamPosition {
    return this.acked;
  }

  /** Runs until the source is done and flushed, the term is lost, or a drain finished. */
  async run(source: RelaySource): Promise<void> {
    const stop = () => {
      this.reading.abort();
      this.sending.abort();
    };
    if (this.term.aborted) return;
    this.term.addEventListener('abort', stop, { once: true });
    let sourceDone = false;
    let sourceError: unknown;
    const reader = source
      .run(this.buffer, this.reading.signal)
      .catch((error) => (sourceError = error))
      .finally(() => {
        sourceDone = true;
        this.buffer.notify();
      });
    try {
      await this.pump(() => sourceDone || this.reading.signal.aborted);
    } catch (error) {
      this.reading.abort();
      throw error;
    } finally {
      this.finished = true;
      this.ctx.stats.sessionEnded();
      this.term.removeEventListener('abort', stop);
      clearTimeout(this.drainTimer);
      // NOTE: a source told to stop may still wait on a driver call (a getMore, a server selection);
      // the session does not wait for it, so a lost term ends at once. It settles on its own.
      if (!this.reading.signal.aborted) await reader;
      if (this.term.aborted) this.buffer.clear();
    }
    if (sourceError) throw sourceError;
  }

  /** Stops reading and flushes what is in flight; gives up sending after `timeoutMs` (unsent events replay later). */
  drain(timeoutMs: number): void {
    this.reading.abort();
    if (this.finished) return;
    this.drainTimer ??= setTimeout(() => {
      if (this.buffer.eventCount > 0)
        this.ctx.logger.warn(MESSAGES.shutdownIncomplete(this.ctx.stream, this.buffer.eventCount, timeoutMs));
      this.sending.abort();
    }, timeoutMs);
  }

  private async pump(sourceDone: () => boolean): Promise<void> {
    const { relay } = this.ctx;
    const signal = this.sending.signal;
    while (!signal.aborted) {
      const batch = this.buffer.peek(relay.batchSize, this.ctx.limits.maxBatchBytes);
      if (batch.length === 0) {
        if (sourceDone()) break;
        await this.checkpoint(false);
        await this.buffer.waitForItems(signal, relay.checkpointIntervalMs || relay.maxAwaitTimeMs);
        continue;
      }
      const messages = packedBatch(batch);
      const end = batch[batch.length - 1].position;
      if (!(await this.publish(messages, messages.count ? end : null))) break;
      this.ctx.stats.published(messages.count, this.buffer.oldestReadAt);
      this.buffer.ack(batch.length);
      this.acked = batch[batch.length - 1].position;
      await this.checkpoint(false);
    }
    if (!this.term.aborted && this.ctx.stillLeader()) await this.checkpoint(true);
  }

  /**
   * Sends until acknowledged (true) or the session stops sending (false). Never waits on a send once
   * the term is lost. Exactly-once: `end` (the position after the batch) goes with it as the
   * checkpoint record of its transaction; a retry first fences and reads the topic, and a transaction
   * that committed after all is not sent again.
   */
  private async publish(messages: PackedBatch, end: StreamPosition | null): Promise<boolean> {
    const signal = this.sending.signal;
    const eo = this.ctx.exactlyOnce;
    const record = eo && end ? eo.record(this.ctx.epoch, end) : undefined;
    for (let attempt = 0; !signal.aborted; attempt++) {
      // NOTE: before every attempt, retries included: a backoff may end after the lease validity.
      if (!this.stillLeading()) return false;
      if (messages.count) this.ctx.stats.sendStarted();
      try {
        if (
          record &&
          attempt > 0 &&
          (await eo!.committed(this.ctx.publisher, record, this.ctx.epoch, signal))
        )
          return this.transactionCommitted(end!);
        if (messages.count || record) await abortable(this.ctx.publisher.send(messages, record), signal);
        return !signal.aborted && (!record || this.transactionCommitted(end!));
      } catch (error) {
        if (signal.aborted) return false;
        eo?.classify(error, this.ctx.epoch);
        const delay = backoffDelay(attempt, this.ctx.relay.backoff);
        this.ctx.stats.sendFailed(error);
        const refused = unretriableKafkaError(error);
        if (refused) {
          const message = MESSAGES.kafkaRefused(this.ctx.stream, refused, error, messages.count);
          throw new KafkaRefusedError(this.ctx.stream, refused, message, error);
        }
        this.ctx.logger.warn(MESSAGES.publishRetry(this.ctx.stream, error, delay, messages.count));
        await this.ctx.publisher.reset();
        await sleep(delay, signal);
      }
    }
    return false;
  }

  private transactionCommitted(position: StreamPosition): true {
    this.committed = position;
    this.ctx.stats.transactionCommitted();
    return true;
  }

  /** False (and everything stops) once the term's validity, minus the safety margin, has passed. */
  private stillLeading(): boolean {
    if (this.ctx.stillLeader()) return true;
    this.sending.abort();
    this.reading.abort();
    return false;
  }

  /** Saves the acknowledged position when it moved (and the interval passed, unless `force`). */
  private async checkpoint(force: boolean): Promise<void> {
    if (this.acked === this.saved) return;
    if (!force && Date.now() - this.lastSaveAt < this.ctx.relay.checkpointIntervalMs) return;
    const position = this.acked;
    // NOTE: exactly-once: positions that carried no event (idle getMores) reach the topic in a
    // transaction of their own, at most once per interval, so a takeover never resumes from a token
    // older than the mirror's (it could fall out of the oplog).
    if (this.ctx.exactlyOnce && position !== this.committed) {
      if (!(await this.publish({ count: 0, parts: [] }, position))) return;
    }
    try {
      await this.ctx.checkpoints.save(this.ctx.epoch, position);
    } catch (error) {
      if (error instanceof FencedOutError) throw error;
      // NOTE: the position stays unsaved and is retried next time; a crash meanwhile only replays more.
      this.ctx.stats.checkpointFailed(error);
      this.ctx.logger.warn(
        `Stream "${this.ctx.stream}": checkpoint not saved (${(error as Error).message}); retrying`,
      );
      return;
    }
    this.saved = position;
    this.lastSaveAt = Date.now();
    this.ctx.stats.checkpointed(this.buffer.oldestReadAt);
  }
}

/** The messages of `items`, in order, as one batch to send. */
function packedBatch(items: readonly RelayItem[]): PackedBatch {
  let count = 0;
  const parts: Buffer[] = [];
  for (const item of items) {
    count += item.count;
    if (item.packed) parts.push(item.packed);
  }
  return { count, parts };
}

/** Resolves or rejects with `promise`, or resolves at once when `signal` aborts (the promise is left to settle alone). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.resolve(undefined);
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
