import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Consumer, EachBatchPayload, IMemberAssignment, Kafka } from 'kafkajs';
import { CHANGE_STREAM_KAFKA, CHANGE_STREAM_OPTIONS } from '../change-stream.constants';
import { AppliedOffsetStore } from '../idempotency/applied-offset.store';
import { ProcessedEventStore } from '../idempotency/processed-event.store';
import { sleep, withTimeout } from '../utils/timers';
import { ChangeHandlerRegistry } from '../handlers/change-handler.registry';
import { DEFAULT_HEARTBEAT_INTERVAL_MS } from '../options/defaults';
import { ChangeDispatcher } from './change-dispatcher';
import { BatchSizing } from './batch-sizing';
import { toChangeMessage } from './change-message';
import type { WorkerModuleOptions } from './worker-module-options';
import { assembleFragments, FRAGMENT_WAIT_MS, incompleteEventProblem } from './fragment-assembler';
import { describeError } from './dead-letter';
import { KafkaDeadLetterPublisher } from './kafka-dead-letter.publisher';
import { MarkerRetentionCheck } from './marker-retention';
import type { WorkerStatus } from './worker-status';
import { WorkerSupervisor } from './worker-supervisor';
import { markerTopics, UntransactionalMessageWarning } from './dedupe-mode';
import { whileHeartbeating } from './heartbeat';

export { BatchSizing, SHARED_TRANSACTION_TARGET_MS } from './batch-sizing';

/**
 * The worker role: one kafkajs consumer in `worker.groupId`, subscribed to the topics of the
 * discovered handlers only. Each partition is handled in order, up to `worker.partitionConcurrency`
 * partitions at once; an offset is resolved only after every handler is done with its message
 * (effect committed, skipped as duplicate, or dead-lettered), and committed after that.
 *
 * Lifecycle: onApplicationBootstrap connects, subscribes and runs; when kafkajs gives up on the
 * consumer for good, a new one in the same group replaces it after a backoff (WorkerSupervisor);
 * beforeApplicationShutdown stops fetching, lets the handlers in flight finish (retry waits are cut
 * short and their messages left uncommitted), commits, leaves the group and disconnects. Internal.
 */
@Injectable()
export class ChangeEventWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('ChangeStream');
  private readonly drain = new AbortController();
  private consumer: Consumer | undefined;
  private state: WorkerStatus['state'] = 'off';
  private assignment: IMemberAssignment = {};
  private readonly sizings = new Map<string, BatchSizing>();
  private completedMessages = 0;
  private sharedMessages = 0;
  private sharedFallBacks = 0;
  private readonly supervisor: WorkerSupervisor;
  private readonly untransactional: UntransactionalMessageWarning;

  constructor(
    @Inject(CHANGE_STREAM_OPTIONS) private readonly options: WorkerModuleOptions,
    @Inject(CHANGE_STREAM_KAFKA) private readonly kafka: Kafka,
    private readonly registry: ChangeHandlerRegistry,
    private readonly dispatcher: ChangeDispatcher,
    private readonly store: ProcessedEventStore,
    private readonly deadLetters: KafkaDeadLetterPublisher,
    private readonly retention: MarkerRetentionCheck,
    @Optional() private readonly appliedOffsets?: AppliedOffsetStore,
  ) {
    this.untransactional = new UntransactionalMessageWarning(options.worker, this.logger);
    this.supervisor = new WorkerSupervisor(
      () => this.open(),
      options.worker.restartBackoff,
      this.drain.signal,
      this.logger,
    );
  }

  status(): WorkerStatus {
    const restart = this.supervisor.restart;
    return {
      state: restart ? 'restarting' : this.state,
      groupId: this.options.worker.groupId,
      topics: this.registry.topics(),
      assignment: this.assignment,
      completedMessages: this.completedMessages,
      sharedMessages: this.sharedMessages,
      sharedFallBacks: this.sharedFallBacks,
      deadLetters: this.deadLetters.counts(),
      restart,
      restarts: this.supervisor.restarts,
    };
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.options.roles.worker) return;
    const topics = this.registry.topics();
    if (topics.length === 0) {
      this.logger.warn('worker role is on but no @ChangeHandler was found: not joining a consumer group');
      return;
    }
    this.state = 'starting';
    // NOTE: a redelivery older than the markers would be applied again: refuse to start with too short a retention.
    const withMarkers = markerTopics(this.options.worker, this.registry.all());
    if (withMarkers.length > 0) await this.retention.verify(withMarkers);
    await this.store.ensureIndexes();
    await this.deadLetters.connect();
    await this.open();
  }

  /**
   * Runs a new kafkajs consumer in the group, subscribed to the handlers' topics, after closing the
   * previous one (one kafkajs gave up on, or a failed attempt): never a second run of the same one.
   * A new consumer of the group resumes from its committed offsets (`fromBeginning` applies only to
   * a group without any).
   */
  private async open(): Promise<void> {
    const { worker } = this.options;
    const topics = this.registry.topics();
    if (this.consumer) await this.close(this.consumer);
    // NOTE: read committed, said out loud: an open or aborted Kafka transaction's messages never reach a handler.
    const consumer = this.kafka.consumer({
      ...worker.kafka,
      groupId: worker.groupId,
      readUncommitted: worker.kafka.readUncommitted ?? false,
    });
    this.consumer = consumer;
    this.watch(consumer);
    try {
      await consumer.connect();
      // NOTE: a shutdown during the connect: the shutdown disconnects it; it must not join the group now.
      if (this.drain.signal.aborted) return;
      await consumer.subscribe({ topics, fromBeginning: worker.fromBeginning });
      if (this.drain.signal.aborted) return;
      await consumer.run({
        autoCommit: true,
        autoCommitInterval: worker.commitIntervalMs,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: worker.partitionConcurrency,
        eachBatch: (payload) => this.consumeBatch(payload),
      });
    } catch (error) {
      await this.close(consumer);
      throw error;
    }
    if (this.drain.signal.aborted) return;
    this.state = 'running';
    this.logger.log(`consuming ${topics.join(', ')} in group ${worker.groupId}`);
  }

  /** Follows the events of `consumer` while it is the one in use (a replaced one's late events are ignored). */
  private watch(consumer: Consumer): void {
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      if (consumer !== this.consumer) return;
      this.assignment = payload.memberAssignment;
      // NOTE: partitions may have moved: read their applied offsets again rather than trust what this worker last saw.
      this.appliedOffsets?.forget();
      this.logger.log(`joined group ${payload.groupId}: ${describeAssignment(payload.memberAssignment)}`);
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (consumer !== this.consumer) return;
      this.logger.error(
        `Kafka consumer crashed (restart: ${payload.restart}): ${describeError(payload.error)}`,
      );
      // NOTE: without a restart kafkajs has given up for good: a new consumer replaces it, and /health says so meanwhile.
      if (!payload.restart) {
        this.assignment = {};
        this.supervisor.gaveUp(payload.error);
      }
    });
  }

  /** Disconnects `consumer`, which kafkajs may have disconnected already; a failure only matters to the log. */
  private async close(consumer: Consumer): Promise<void> {
    await consumer
      .disconnect()
      .catch((error) => this.logger.warn(`closing a Kafka consumer: ${describeError(error)}`));
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (!this.consumer) return;
    this.state = 'draining';
    this.drain.abort();
    const { shutdownTimeoutMs } = this.options.worker;
    // NOTE: a restart in progress stops at its next step (its backoff ends at once); the consumer it left is closed below.
    await withTimeout(this.supervisor.settled(), shutdownTimeoutMs, 'stopping the consumer restart').catch(
      (error) => this.logger.warn(describeError(error)),
    );
    const consumer = this.consumer;
    this.consumer = undefined;
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
    // NOTE: kafkajs hands a fetch's batches over at once (up to partitionConcurrency), and fetches again after all are handled.
    const receivedAt = Date.now();
    const sizing = this.sizingOf(topic, partition);
    this.untransactional.check(topic, partition, batch.messages);
    // NOTE: the fragments of a split event are joined first; an unfinished one is left unresolved and fetched again.
    const { messages, pendingFragments } = assembleFragments(
      batch.messages.map((message) => toChangeMessage(topic, partition, message, receivedAt)),
    );
    if (messages.length === 0 && pendingFragments) return this.awaitFragments(batch, pendingFragments);
    for (let next = 0; next < messages.length;) {
      if (!isRunning() || isStale() || this.drain.signal.aborted) break;
      const chunk = messages.slice(next, next + sizing.size());
      const started = performance.now();
      const interval = this.options.worker.kafka.heartbeatInterval ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
      const { result, heartbeatError } = await whileHeartbeating(heartbeat, interval, () =>
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
}

function describeAssignment(assignment: IMemberAssignment): string {
  const parts = Object.entries(assignment).map(([topic, partitions]) => `${topic}[${partitions.join(',')}]`);
  return parts.length ? parts.join(' ') : 'no partitions';
}
