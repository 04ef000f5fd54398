import type { Document } from 'bson';
import type { LoggerService } from '@nestjs/common';
import type { ChangeStream, MongoClient } from 'mongodb';
import { HistoryLostError } from '../errors/history-lost.error';
import { StreamRejectedError } from '../errors/stream-rejected.error';
import type { StreamStatus } from '../health/listener-status';
import type {
  ResolvedChangeStreamOptions,
  ResolvedStream,
} from '../interfaces/change-stream-options.interface';
import { MESSAGES } from '../change-stream.messages';
import { serializeEvent } from '../publisher/event-serializer';
import { backoffDelay, sleep } from '../utils/timers';
import { EMPTY_POSITION, type StreamPosition } from './checkpoint.store';
import { relayItem, type InFlightBuffer } from './in-flight-buffer';
import { errorCode, isHistoryLost, isRejectedStream } from './mongo-errors';
import type { RelaySource } from './relay-session';
import { buildPipeline, watchOptions } from './stream-pipeline';

/** What a source needs to read one stream during one leadership term. */
export interface SourceContext {
  client: MongoClient;
  stream: ResolvedStream;
  options: Pick<ResolvedChangeStreamOptions, 'relay' | 'excludeNamespaces'>;
  epoch: number;
  status: StreamStatus;
  logger: LoggerService;
}

const tokenData = (token: Document | null | undefined): unknown =>
  (token as { _data?: unknown } | null)?._data;

/**
 * Reads a change stream into the in-flight buffer, in order, from `position`:
 * - waits for buffer space before each read (backpressure pauses the stream);
 * - an invalidate is queued, then the stream reopens with `startAfter` its token;
 * - an empty getMore queues the postBatchResumeToken, so an idle stream's checkpoint advances;
 * - errors the driver did not resume reopen from the last position read, after a backoff with jitter;
 * - history lost (286/260/280) throws HistoryLostError; a rejected pipeline throws StreamRejectedError.
 */
export class ChangeStreamSource implements RelaySource {
  constructor(
    private readonly ctx: SourceContext,
    private position: StreamPosition,
  ) {}

  async run(buffer: InFlightBuffer, signal: AbortSignal): Promise<void> {
    const { relay } = this.ctx.options;
    let failures = 0;
    while (!signal.aborted) {
      const stream = this.open();
      const close = () => void stream.close().catch(() => undefined);
      signal.addEventListener('abort', close, { once: true });
      try {
        await this.read(stream, buffer, signal, () => (failures = 0));
      } catch (error) {
        if (signal.aborted) return;
        this.fatal(error);
        const delay = backoffDelay(failures++, relay.backoff);
        this.ctx.status.lastError = { message: (error as Error).message, at: new Date() };
        this.ctx.logger.warn(MESSAGES.streamRetry(this.ctx.stream.name, error, delay));
        await sleep(delay, signal);
      } finally {
        signal.removeEventListener('abort', close);
        void stream.close().catch(() => undefined);
      }
    }
  }

  private open(): ChangeStream<Document, Document> {
    const { client, stream, options } = this.ctx;
    const pipeline = buildPipeline(stream, options.excludeNamespaces);
    const watchOpts = watchOptions(stream, options.relay, this.position);
    const db = client.db(stream.db);
    return stream.collections?.length === 1
      ? db.collection(stream.collections[0]).watch<Document, Document>(pipeline, watchOpts)
      : db.watch<Document, Document>(pipeline, watchOpts);
  }

  /** Reads until the stream is invalidated (returns) or fails (throws). */
  private async read(
    stream: ChangeStream<Document, Document>,
    buffer: InFlightBuffer,
    signal: AbortSignal,
    onProgress: () => void,
  ): Promise<void> {
    const { status } = this.ctx;
    for (;;) {
      await buffer.waitForSpace(signal);
      if (signal.aborted) return;
      const change = await stream.tryNext();
      if (signal.aborted) return;
      status.lastReadAt = new Date();
      onProgress();
      if (change) {
        const invalidate = change.operationType === 'invalidate';
        this.advance(change._id, invalidate, change.clusterTime);
        buffer.push(this.toItem(change));
        status.eventsRead++;
        if (invalidate) return;
      } else if (stream.closed) {
        throw new Error(MESSAGES.streamClosedWithoutInvalidate(this.ctx.stream.name));
      } else if (
        stream.resumeToken &&
        tokenData(stream.resumeToken) !== tokenData(this.position.resumeToken)
      ) {
        this.advance(stream.resumeToken, false, undefined);
        buffer.push(relayItem([], this.position));
      }
    }
  }

  private advance(token: Document, startAfter: boolean, clusterTime: unknown): void {
    this.position = {
      ...EMPTY_POSITION,
      resumeToken: token,
      startAfter,
      clusterTime: (clusterTime as StreamPosition['clusterTime']) ?? this.position.clusterTime,
    };
  }

  private toItem(change: Document) {
    const eventId = tokenData(change._id);
    if (typeof eventId !== 'string')
      throw new StreamRejectedError(
        this.ctx.stream.name,
        undefined,
        MESSAGES.eventWithoutToken(this.ctx.stream.name),
      );
    const messages = serializeEvent(this.ctx.stream, change, eventId, this.ctx.epoch);
    return relayItem(messages, this.position);
  }

  /** Throws the errors no retry can fix. */
  private fatal(error: unknown): void {
    const name = this.ctx.stream.name;
    if (error instanceof StreamRejectedError) throw error;
    if (isHistoryLost(error))
      throw new HistoryLostError(
        name,
        errorCode(error)!,
        MESSAGES.historyLost(name, error, this.position),
        error,
      );
    if (isRejectedStream(error))
      throw new StreamRejectedError(name, errorCode(error), MESSAGES.streamRejected(name, error), error);
  }
}
