import type { Document } from 'bson';
import type { LoggerService } from '@nestjs/common';
import type { ChangeStream, MongoClient } from 'mongodb';
import { StreamRejectedError } from '../errors/stream-rejected.error';
import { UnpublishableEventError } from '../errors/unpublishable-event.error';
import type { RelayStats } from '../health/relay-stats';
import type {
  ResolvedChangeStreamOptions,
  ResolvedStream,
} from '../interfaces/change-stream-options.interface';
import { MESSAGES } from '../change-stream.messages';
import type { BatchLimits } from '../publisher/kafka-limits';
import { backoffDelay, sleep } from '../utils/timers';
import { EMPTY_POSITION, type StreamPosition } from './checkpoint.store';
import { relayItem, type InFlightBuffer } from './in-flight-buffer';
import { fatalStreamError } from './mongo-errors';
import type { RelaySource } from './relay-session';
import { SplitEventSerializer, isUnfinishedFragment } from './split-event';
import { changeStreamPipeline, watchOptions } from './stream-pipeline';
import { publishableMessages, type UnpublishablePolicy } from './unpublishable';

/** What a source needs to read one stream during one leadership term. */
export interface SourceContext {
  client: MongoClient;
  stream: ResolvedStream;
  options: Pick<ResolvedChangeStreamOptions, 'relay' | 'excludeNamespaces'>;
  epoch: number;
  stats: RelayStats;
  logger: LoggerService;
  /** The largest batch Kafka takes, read at the start of the term: a larger event is unpublishable. */
  limits: BatchLimits;
}

const tokenData = (token: Document | null | undefined): unknown =>
  (token as { _data?: unknown } | null)?._data;

/**
 * Reads a change stream into the in-flight buffer, in order, from `position`:
 * - waits for buffer space before each read (backpressure pauses the stream);
 * - an invalidate is queued, then the stream reopens with `startAfter` its token;
 * - an empty getMore queues the postBatchResumeToken, so an idle stream's checkpoint advances;
 * - errors the driver did not resume reopen from the last position read, after a backoff with jitter;
 * - the position never passes an event not handed to the buffer: an event that cannot be published
 *   (bad topic, too large) follows `relay.onUnpublishable` (stop with UnpublishableEventError, or
 *   queue a dead-letter record in its place), never a reopen after it;
 * - history lost throws HistoryLostError; a rejected pipeline, an event over 16 MB throw StreamRejectedError (mongo-errors.ts).
 */
export class ChangeStreamSource implements RelaySource {
  private readonly policy: UnpublishablePolicy;
  private readonly serializer: SplitEventSerializer;

  constructor(
    private readonly ctx: SourceContext,
    private position: StreamPosition,
  ) {
    const { stream, options, limits, epoch, stats } = ctx;
    this.policy = { stream: stream.name, relay: options.relay, limits, epoch, stats };
    this.serializer = new SplitEventSerializer(stream, epoch);
  }

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
        this.ctx.stats.readFailed(error);
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
    const pipeline = changeStreamPipeline(stream, options.excludeNamespaces);
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
    const { stats } = this.ctx;
    for (;;) {
      await buffer.waitForSpace(signal);
      if (signal.aborted) return;
      const change = await stream.tryNext();
      if (signal.aborted) return;
      stats.readReturned();
      onProgress();
      if (change) {
        const invalidate = change.operationType === 'invalidate';
        // NOTE: a fragment before its event's last keeps the position before the event: a reopen replays it whole.
        const next = isUnfinishedFragment(change)
          ? this.position
          : this.after(change._id, invalidate, change.clusterTime);
        // NOTE: encode first: a throw here leaves the position before the event (reopen replays it).
        buffer.push(relayItem(this.messagesOf(change), next));
        this.position = next;
        stats.eventRead();
        if (invalidate) return;
      } else if (stream.closed) {
        throw new Error(MESSAGES.streamClosedWithoutInvalidate(this.ctx.stream.name));
      } else if (
        stream.resumeToken &&
        tokenData(stream.resumeToken) !== tokenData(this.position.resumeToken)
      ) {
        this.position = this.after(stream.resumeToken, false, undefined);
        buffer.push(relayItem([], this.position));
      }
    }
  }

  /** The position after a change (or an idle token). */
  private after(token: Document, startAfter: boolean, clusterTime: unknown): StreamPosition {
    return {
      ...EMPTY_POSITION,
      resumeToken: token,
      startAfter,
      clusterTime: (clusterTime as StreamPosition['clusterTime']) ?? this.position.clusterTime,
    };
  }

  /** The messages of a change, or its dead-letter record; throws when the stream must stop on it. */
  private messagesOf(change: Document) {
    const eventId = tokenData(change._id);
    if (typeof eventId !== 'string')
      throw new StreamRejectedError(
        this.ctx.stream.name,
        undefined,
        MESSAGES.eventWithoutToken(this.ctx.stream.name),
      );
    return publishableMessages(this.policy, change, eventId, () =>
      this.serializer.messagesOf(change, eventId),
    );
  }

  /** Throws the errors no retry can fix (see mongo-errors.ts). */
  private fatal(error: unknown): void {
    if (error instanceof StreamRejectedError || error instanceof UnpublishableEventError) throw error;
    const fatal = fatalStreamError(this.ctx.stream, error, this.position);
    if (fatal) throw fatal;
  }
}
