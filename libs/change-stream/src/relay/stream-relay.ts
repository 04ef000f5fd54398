import type { LoggerService } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { MongoClient } from 'mongodb';
import { MESSAGES } from '../change-stream.messages';
import { FencedOutError } from '../errors/fenced-out.error';
import { HistoryLostError } from '../errors/history-lost.error';
import { KafkaRefusedError } from '../errors/kafka-refused.error';
import { StreamRejectedError } from '../errors/stream-rejected.error';
import { UnpublishableEventError } from '../errors/unpublishable-event.error';
import type { ChangeStreamStatus } from '../health/relay-status';
import type { RelayStats } from '../health/relay-stats';
import type {
  ResolvedChangeStreamOptions,
  ResolvedStream,
} from '../interfaces/change-stream-options.interface';
import { LeaderElector, type LeaderTerm, type TermOutcome } from '../leader/leader-elector';
import type { Lease } from '../leader/lease.interface';
import { TermGuard } from '../leader/term-guard';
import type { EventPublisher } from '../publisher/event-publisher';
import {
  BATCH_OVERHEAD_BYTES,
  KAFKA_DEFAULT_MAX_MESSAGE_BYTES,
  streamBatchLimits,
  type BatchLimits,
} from '../publisher/kafka-limits';
import { streamTopics } from '../publisher/outgoing-message';
import type { ProducerThreadData } from '../publisher/producer-thread';
import { TermProducers } from '../publisher/term-producers';
import { ChangeStreamSource, type SourceContext } from './change-stream.source';
import {
  CheckpointStore,
  EMPTY_POSITION,
  type CheckpointDocument,
  type StreamPosition,
} from './checkpoint.store';
import { ExactlyOnceRelay } from './exactly-once';
import { RelaySession, type RelaySource } from './relay-session';
import { currentOperationTime, newSnapshot, SnapshotSource } from './snapshot.source';
import { topicPartitions } from './topic-partitions';

/** Everything one stream's relay needs. */
export interface StreamRelayDeps {
  stream: ResolvedStream;
  options: ResolvedChangeStreamOptions;
  client: MongoClient;
  kafka: Kafka;
  /** Settings of a producer thread, or null to produce in this thread with `kafka`. */
  producerThread?: ProducerThreadData | null;
  lease: Lease;
  status: ChangeStreamStatus;
  logger: LoggerService;
}

/**
 * One stream on this replica: campaigns for the stream's lease and, while leader, relays the
 * change stream to Kafka with epoch-fenced checkpoints.
 *
 * On winning: take a new epoch (atomic `$inc`, majority), connect an idempotent producer (connected
 * already while standing by, unless that failed), then
 * read from the checkpoint (resumeAfter / startAfter), from a recorded operation time, or, on a
 * first start, from now (recorded at once, so a crash before the first event loses nothing).
 * History lost follows `onHistoryLost`; a rejected checkpoint steps down at once. Any other error
 * ends the term: the stream is `restarting` (reason, attempt) until the elector, after a backoff,
 * campaigns again. Only a stop by policy stays stopped.
 */
export class StreamRelay {
  private readonly elector: LeaderElector;
  private readonly checkpoints: CheckpointStore;
  private readonly stats: RelayStats;
  private readonly stopping = new AbortController();
  private session: RelaySession | null = null;
  /** The largest batch Kafka takes, read at the start of each term's relay. */
  private limits: BatchLimits = { maxBatchBytes: KAFKA_DEFAULT_MAX_MESSAGE_BYTES - BATCH_OVERHEAD_BYTES };
  private readonly producers: TermProducers;
  /** relay.delivery 'exactly-once': transactions, the checkpoint topic and its reader; else null. */
  private readonly exactlyOnce: ExactlyOnceRelay | null;

  constructor(private readonly deps: StreamRelayDeps) {
    const { options, stream, status, logger, lease } = deps;
    this.stats = status.stream(stream.name);
    const collection = deps.client
      .db(options.storage.database)
      .collection<CheckpointDocument>(options.storage.checkpoints);
    this.checkpoints = new CheckpointStore(collection, stream.name, status.instanceId);
    this.stats.delivers(options.relay.delivery);
    this.exactlyOnce =
      options.relay.delivery === 'exactly-once'
        ? new ExactlyOnceRelay(stream.name, options, deps.kafka, logger, () => streamTopics(stream))
        : null;
    this.producers = new TermProducers(
      { ...deps, transactional: this.exactlyOnce?.transactional },
      this.stats,
      this.stopping.signal,
    );
    const stats = this.stats;
    this.elector = new LeaderElector(lease, options.lease, logger, {
      onLeader: (validUntil) => stats.elected(validUntil),
      onRenewed: (validUntil) => stats.leaseRenewed(validUntil),
      onLost: (reason) => stats.leaseLost(reason),
      onStandby: () => stats.standingBy(),
      onFailed: (failure) => stats.restarting(failure),
      onResumed: () => stats.resumed(),
    });
  }

  /** Starts campaigning (returns at once). */
  start(): void {
    this.stats.campaigning();
    this.producers.prepareSpare();
    this.exactlyOnce?.prepare();
    this.elector.start((term) => this.lead(term));
  }

  /** Graceful stop: stop reading, flush in-flight events, checkpoint, release the lease. */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.session?.drain(this.deps.options.relay.shutdownTimeoutMs);
    await this.elector.stop();
    await this.producers.disposeSpare();
    await this.exactlyOnce?.stop();
    this.stats.shutDown();
  }

  private async lead(elected: LeaderTerm): Promise<TermOutcome> {
    if (this.stopping.signal.aborted) return 'stop';
    const term = new TermGuard(elected, this.deps.lease.name, this.deps.options.lease.safetyMarginMs);
    const taken = await this.checkpoints.takeEpoch(() => term.stillValid());
    if (!taken) {
      this.deps.logger.warn(MESSAGES.termExpiredBeforeEpoch(this.deps.stream.name));
      return this.outcome();
    }
    const { epoch, position: saved } = taken;
    this.stats.termStarted(epoch);
    const { publisher, release } = this.producers.take(term.signal, epoch);
    try {
      // NOTE: the start is fixed (and saved on a first start) before connecting to Kafka: "from now"
      // means from the moment this replica won, however long the producer takes to connect.
      let position = await this.startingPosition(epoch, saved);
      if (!(await this.producers.connect(publisher, term.signal))) return this.outcome();
      if (this.exactlyOnce)
        position = await this.takeOver(this.exactlyOnce, publisher, epoch, term, position);
      this.deps.logger.log(MESSAGES.becameLeader(this.deps.stream.name, epoch, position));
      return await this.relay(term, epoch, publisher, position);
    } catch (error) {
      if (error instanceof FencedOutError) {
        this.deps.logger.warn(MESSAGES.fencedOut(this.deps.stream.name, epoch));
        return this.outcome();
      }
      if (
        error instanceof StreamRejectedError ||
        error instanceof UnpublishableEventError ||
        error instanceof KafkaRefusedError
      )
        return this.stopByPolicy(error.message);
      // NOTE: a takeover cut short by the lost term (its checkpoint read aborts) is no failure.
      if (term.signal.aborted) return this.outcome();
      // NOTE: not a policy's to stop for: the elector backs off and campaigns again (status: restarting).
      throw error;
    } finally {
      await release();
    }
  }

  /** Relays until the term ends; handles history lost by policy. */
  private async relay(
    term: TermGuard,
    epoch: number,
    publisher: EventPublisher,
    start: StreamPosition,
  ): Promise<TermOutcome> {
    let position = start;
    const { kafka, stream, options, logger } = this.deps;
    this.limits = await streamBatchLimits(kafka, stream, options, logger);
    const context: SourceContext = { ...this.deps, epoch, stats: this.stats, limits: this.limits };
    while (!term.signal.aborted && !this.stopping.signal.aborted) {
      if (position.snapshot) {
        const snapshot = position.snapshot;
        const partitions = (topics: readonly string[]) => topicPartitions(this.deps.kafka, topics);
        const source = new SnapshotSource(context, snapshot, partitions);
        this.deps.logger.log(MESSAGES.resnapshotStart(this.deps.stream.name, snapshot.operationTime));
        const end = await this.runSession(term, epoch, publisher, position, source);
        // NOTE: only the end markers' position is the finished run: a session cut short (lease lost,
        // stop) leaves the scan's progress in the checkpoint, and the next leader continues it.
        if (!end || end.snapshot) break;
        this.deps.logger.log(MESSAGES.resnapshotDone(this.deps.stream.name, source.published));
        position = end;
        await this.checkpoints.save(epoch, position);
        continue;
      }
      try {
        await this.runSession(term, epoch, publisher, position, new ChangeStreamSource(context, position));
        break;
      } catch (error) {
        if (!(error instanceof HistoryLostError)) throw error;
        if (this.deps.options.onHistoryLost === 'fail') {
          return this.stopByPolicy(
            `${error.message} ${MESSAGES.historyLostFail(this.deps.stream.name, this.checkpointNamespace())}`,
          );
        }
        this.deps.logger.error(error.message);
        const operationTime = await currentOperationTime(this.deps.client);
        position = { ...EMPTY_POSITION, snapshot: newSnapshot(operationTime), clusterTime: operationTime };
        await this.checkpoints.save(epoch, position);
      }
    }
    return this.outcome();
  }

  /** Runs one session; the position Kafka acknowledged last, or null when cut short (lost term, stop). */
  private async runSession(
    term: TermGuard,
    epoch: number,
    publisher: EventPublisher,
    position: StreamPosition,
    source: RelaySource,
  ): Promise<StreamPosition | null> {
    const { relay } = this.deps.options;
    const stillLeader = () => term.stillValid();
    const context = {
      stream: this.deps.stream.name,
      relay,
      publisher,
      checkpoints: this.checkpoints,
      epoch,
      stats: this.stats,
      logger: this.deps.logger,
      limits: this.limits,
      stillLeader,
      exactlyOnce: this.exactlyOnce,
    };
    const session = new RelaySession(context, term.signal, position);
    this.session = session;
    if (this.stopping.signal.aborted) session.drain(relay.shutdownTimeoutMs);
    try {
      await session.run(source);
    } finally {
      this.session = null;
    }
    const cutShort = term.signal.aborted || this.stopping.signal.aborted || !stillLeader();
    return cutShort ? null : session.position;
  }

  /**
   * Exactly-once: fences the previous producer, then reads the checkpoint committed with the last
   * events; it wins over the MongoDB mirror (`mirror`, used when the topic has none), which is brought in line.
   */
  private async takeOver(
    exactlyOnce: ExactlyOnceRelay,
    publisher: EventPublisher,
    epoch: number,
    term: TermGuard,
    mirror: StreamPosition,
  ): Promise<StreamPosition> {
    const committed = await exactlyOnce.takeOver(publisher, epoch, term.signal);
    if (!committed) return mirror;
    await this.checkpoints.save(epoch, committed);
    return committed;
  }

  /** The checkpoint's position; on a first start, now (or the configured time), saved before reading. */
  private async startingPosition(epoch: number, saved: StreamPosition): Promise<StreamPosition> {
    if (saved.resumeToken || saved.startAtOperationTime || saved.snapshot) return saved;
    const time = this.deps.stream.startAtOperationTime ?? (await currentOperationTime(this.deps.client));
    const position = { ...EMPTY_POSITION, startAtOperationTime: time, clusterTime: time };
    await this.checkpoints.save(epoch, position);
    return position;
  }

  private stopByPolicy(reason: string): TermOutcome {
    this.stats.stoppedByPolicy(reason);
    this.deps.logger.error(reason);
    return 'stop';
  }

  private outcome(): TermOutcome {
    return this.stopping.signal.aborted ? 'stop' : 'campaign';
  }

  private checkpointNamespace(): string {
    const { database, checkpoints } = this.deps.options.storage;
    return `${database}.${checkpoints}`;
  }
}
