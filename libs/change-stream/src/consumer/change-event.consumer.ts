import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Consumer, EachBatchPayload, IMemberAssignment, Kafka } from 'kafkajs';
import { CHANGE_STREAM_KAFKA, CHANGE_STREAM_OPTIONS } from '../change-stream.constants';
import { ProcessedEventStore } from '../idempotency/processed-event.store';
import { sleep, withTimeout } from '../utils/timers';
import { ChangeDispatcher, type BatchDispatchReport } from './change-dispatcher';
import { ChangeHandlerRegistry } from './change-handler.registry';
import type { ChangeMessage } from './change-message';
import type { ConsumerOptions } from './consumer-options';
import { assembleFragments, FRAGMENT_WAIT_MS, incompleteEventProblem } from './fragment-assembler';
import { describeError, type DeadLetterCount } from './dead-letter';
import { KafkaDeadLetterPublisher } from './kafka-dead-letter.publisher';
import { MarkerRetentionCheck } from './marker-retention';

/** What the worker is doing, for health checks. */
export interface ConsumerStatus {
  /** `off`: consumer role disabled or no handlers. `draining`/`stopped`: shutdown. */
  state: 'off' | 'starting' | 'running' | 'draining' | 'stopped';
  groupId: string;
  topics: string[];
  /** Partitions assigned at the last group join, by topic. */
  assignment: IMemberAssignment;
  /**
   * Messages every handler is done with (applied, skipped as duplicate or filtered, or
   * dead-lettered), whose offsets were resolved, since start. Each message counts once per delivery,
   * however often a handler ran for it.
   */
  completedMessages: number;
  /** Messages whose effects committed in a shared transaction (`worker.batchSize`), since start. */
  sharedMessages: number;
  /**
   * Shared transactions that failed for a reason no handler caused (a write conflict, a redelivered
   * message) and whose messages then ran one transaction each, since start.
   */
  sharedFallBacks: number;
  /** Dead letters stored since start, by reason and handler (undecodable ones included). */
  deadLetters: DeadLetterCount[];
}

const DEFAULT_HEARTBEAT_INTERVAL_MS = 3_000;

/**
 * The worker role: one kafkajs consumer in `worker.groupId`, subscribed to the topics of the
 * discovered handlers only. Each partition is handled in order, up to `worker.partitionConcurrency`
 * partitions at once; an offset is resolved only after every handler is done with its message
 * (effect committed, skipped as duplicate, or dead-lettered), and committed after that.
 *
 * Lifecycle: onApplicationBootstrap connects, subscribes and runs; beforeApplicationShutdown stops
 * fetching, lets the handlers in flight finish (retry waits are cut short and their messages left
 * uncommitted), commits, leaves the group and disconnects. Internal.
 */
@Injectable()
export class ChangeEventConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('ChangeStream');
  private readonly drain = new AbortController();
  private consumer: Consumer | undefined;
  private state: ConsumerStatus['state'] = 'off';
  private assignment: IMemberAssignment = {};
  private readonly sizings = new Map<string, BatchSizing>();
  private completedMessages = 0;
  private sharedMessages = 0;
  private sharedFallBacks = 0;

  constructor(
    @Inject(CHANGE_STREAM_OPTIONS) private readonly options: ConsumerOptions,
    @Inject(CHANGE_STREAM_KAFKA) private readonly kafka: Kafka,
    private readonly registry: ChangeHandlerRegistry,
    private readonly dispatcher: ChangeDispatcher,
    private readonly store: ProcessedEventStore,
    private readonly deadLetters: KafkaDeadLetterPublisher,
    private readonly retention: MarkerRetentionCheck,
  ) {}

  status(): ConsumerStatus {
    return {
      state: this.state,
      groupId: this.options.worker.groupId,
      topics: this.registry.topics(),
      assignment: this.assignment,
      completedMessages: this.completedMessages,
      sharedMessages: this.sharedMessages,
      sharedFallBacks: this.sharedFallBacks,
      deadLetters: this.deadLetters.counts(),
    };
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.options.consumer) return;
    const topics = this.registry.topics();
    if (topics.length === 0) {
      this.logger.warn('consumer role is on but no @ChangeHandler was found: not joining a consumer group');
      return;
    }
    this.state = 'starting';
    const { worker } = this.options;
    // NOTE: a redelivery older than the markers would be applied again: refuse to start with too short a retention.
    await this.retention.verify(topics);
    await this.store.ensureIndexes();
    await this.deadLetters.connect();
    const consumer = this.kafka.consumer({ ...worker.kafka, groupId: worker.groupId });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.assignment = payload.memberAssignment;
      this.logger.log(`joined group ${payload.groupId}: ${describeAssignment(payload.memberAssignment)}`);
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.logger.error(
        `Kafka consumer crashed (restart: ${payload.restart}): ${describeError(payload.error)}`,
      );
      // NOTE: without a restart kafkajs has given up for good; say so, so /health goes DOWN.
      if (!payload.restart) {
        this.state = 'stopped';
        this.assignment = {};
      }
    });
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: worker.fromBeginning });
    await consumer.run({
      autoCommit: true,
      autoCommitInterval: worker.commitIntervalMs,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: worker.partitionConcurrency,
      eachBatch: (payload) => this.consumeBatch(payload),
    });
    this.state = 'running';
    this.logger.log(`consuming ${topics.join(', ')} in group ${worker.groupId}`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    const consumer = this.consumer;
    if (!consumer) return;
    this.consumer = undefined;
    this.state = 'draining';
    this.drain.abort();
    const { shutdownTimeoutMs } = this.options.worker;
    try {
      // NOTE: kafkajs disconnect = stop fetching, wait for the batch in flight, commit resolved offsets, leave the group.
      await withTimeout(consumer.disconnect(), shutdownTimeoutMs, 'draining the change consumer');
    } catch (error) {
      this.logger.warn(
        `${describeError(error)}; unfinished messages stay uncommitted and will be redelivered`,
      );
    }
    await this.deadLetters
      .disconnect()
      .catch((error) => this.logger.warn(`dead-letter producer: ${describeError(error)}`));
    this.state = 'stopped';
  }

  private async consumeBatch({
    batch,
    resolveOffset,
    heartbeat,
    commitOffsetsIfNecessary,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    const sizing = this.sizingOf(topic, partition);
    // NOTE: the fragments of a split event are joined first; an unfinished one is left unresolved and fetched again.
    const { messages, pendingFragments } = assembleFragments(
      batch.messages.map((message): ChangeMessage => ({
        topic,
        partition,
        offset: message.offset,
        key: message.key,
        value: message.value,
        headers: message.headers ?? {},
      })),
    );
    if (messages.length === 0 && pendingFragments) return this.awaitFragments(batch, pendingFragments);
    for (let next = 0; next < messages.length;) {
      if (!isRunning() || isStale() || this.drain.signal.aborted) break;
      const chunk = messages.slice(next, next + sizing.size());
      const started = performance.now();
      const { result, heartbeatError } = await this.keepingAlive(heartbeat, () =>
        this.dispatcher.dispatchBatch(chunk, { signal: this.drain.signal }),
      );
      sizing.record(result, performance.now() - started);
      this.sharedMessages += result.shared;
      if (result.fellBack) this.sharedFallBacks++;
      let done = 0;
      for (const report of result.reports) {
        if (!report.complete) break;
        resolveOffset(chunk[done++].offset);
      }
      this.completedMessages += done;
      // NOTE: a heartbeat failed during the handlers (usually a rebalance): the effects are durable and their
      // offsets resolved; kafkajs commits what it can and rejoins, and a repeat is skipped by its marker.
      if (heartbeatError) throw heartbeatError;
      if (done < chunk.length) break;
      next += done;
      await commitOffsetsIfNecessary();
      await heartbeat();
    }
  }

  /** A batch of fragments only: says so when the fetch cannot hold the event, then waits a little before the refetch. */
  private async awaitFragments(batch: EachBatchPayload['batch'], pendingFragments: number): Promise<void> {
    const problem = incompleteEventProblem(batch, pendingFragments);
    if (problem) this.logger.error(problem);
    await sleep(FRAGMENT_WAIT_MS, this.drain.signal);
  }

  private sizingOf(topic: string, partition: number): BatchSizing {
    const key = `${topic}\n${partition}`;
    let sizing = this.sizings.get(key);
    if (!sizing) {
      sizing = new BatchSizing(this.options.worker.batchSize);
      this.sizings.set(key, sizing);
    }
    return sizing;
  }

  /** Runs `work` while heartbeating, so a long handler or retry wait does not cost the group membership. */
  private async keepingAlive<T>(
    heartbeat: () => Promise<void>,
    work: () => Promise<T>,
  ): Promise<{ result: T; heartbeatError: unknown }> {
    let heartbeatError: unknown;
    const interval = this.options.worker.kafka.heartbeatInterval ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    const timer = setInterval(() => {
      heartbeat().catch((error: unknown) => (heartbeatError ??= error));
    }, interval);
    try {
      return { result: await work(), heartbeatError };
    } finally {
      clearInterval(timer);
    }
  }
}

/** Handler time a shared transaction should hold, about: long transactions conflict more and redo more. */
export const SHARED_TRANSACTION_TARGET_MS = 200;

/**
 * How many messages of one partition go into the next shared transaction: at most `batchSize`, about
 * {@link SHARED_TRANSACTION_TARGET_MS} of handler time (from a moving average of the time per message),
 * halved after a shared transaction failed for a reason no handler caused (a write conflict with
 * another worker, a redelivery), and doubled back after each one that committed. Internal.
 */
export class BatchSizing {
  private limit: number;
  private msPerMessage = 0;

  constructor(private readonly batchSize: number) {
    this.limit = batchSize;
  }

  size(): number {
    const byTime =
      this.msPerMessage > 0 ? Math.floor(SHARED_TRANSACTION_TARGET_MS / this.msPerMessage) : this.batchSize;
    return Math.max(1, Math.min(this.limit, byTime));
  }

  record(result: BatchDispatchReport, elapsedMs: number): void {
    if (result.fellBack) this.limit = Math.max(1, Math.floor(this.limit / 2));
    else if (result.shared > 0) this.limit = Math.min(this.batchSize, this.limit * 2);
    const messages = result.reports.length;
    if (messages === 0 || result.fellBack) return;
    const sample = elapsedMs / messages;
    this.msPerMessage = this.msPerMessage === 0 ? sample : this.msPerMessage * 0.7 + sample * 0.3;
  }
}

function describeAssignment(assignment: IMemberAssignment): string {
  const parts = Object.entries(assignment).map(([topic, partitions]) => `${topic}[${partitions.join(',')}]`);
  return parts.length ? parts.join(' ') : 'no partitions';
}
