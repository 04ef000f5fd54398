import type { LoggerService } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { MongoClient } from 'mongodb';
import { MESSAGES } from '../change-stream.messages';
import { FencedOutError } from '../errors/fenced-out.error';
import { HistoryLostError } from '../errors/history-lost.error';
import { StreamRejectedError } from '../errors/stream-rejected.error';
import type { ChangeStreamStatus, StreamStatus } from '../health/listener-status';
import type {
  ResolvedChangeStreamOptions,
  ResolvedStream,
} from '../interfaces/change-stream-options.interface';
import { LeaderElector, type LeaderTerm, type TermOutcome } from '../leader/leader-elector';
import type { Lease } from '../leader/lease.interface';
import type { EventPublisher } from '../publisher/event-publisher';
import { KafkaPublisher } from '../publisher/kafka-publisher';
import { ThreadedKafkaPublisher, type ProducerThreadData } from '../publisher/producer-thread';
import { backoffDelay, sleep } from '../utils/timers';
import { ChangeStreamSource, type SourceContext } from './change-stream.source';
import {
  CheckpointStore,
  EMPTY_POSITION,
  type CheckpointDocument,
  type StreamPosition,
} from './checkpoint.store';
import { RelaySession, type RelaySource } from './relay-session';
import { currentOperationTime, newSnapshot, SnapshotSource } from './snapshot.source';

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
 * History lost follows `onHistoryLost`; a rejected checkpoint steps down at once.
 */
export class StreamRelay {
  private readonly elector: LeaderElector;
  private readonly checkpoints: CheckpointStore;
  private readonly state: StreamStatus;
  private readonly stopping = new AbortController();
  private session: RelaySession | null = null;
  /** A producer connected while standing by, for the next term (see {@link prepareSpare}). */
  private spare: EventPublisher | null = null;

  constructor(private readonly deps: StreamRelayDeps) {
    const { options, stream, status, logger, lease } = deps;
    this.state = status.stream(stream.name);
    const collection = deps.client
      .db(options.storage.database)
      .collection<CheckpointDocument>(options.storage.checkpoints);
    this.checkpoints = new CheckpointStore(collection, stream.name, status.instanceId);
    this.elector = new LeaderElector(lease, options.lease, logger, {
      onLeader: (validUntil) => Object.assign(this.state, { role: 'leader', leaseValidUntil: validUntil }),
      onRenewed: (validUntil) => (this.state.leaseValidUntil = validUntil),
      onLost: (reason) =>
        Object.assign(this.state, {
          role: 'standby',
          leaseValidUntil: null,
          lastError: { message: reason, at: new Date() },
        }),
      onStandby: () => {
        this.state.leaseValidUntil = null;
        if (this.state.role === 'leader') this.state.role = 'standby';
      },
    });
  }

  /** Starts campaigning (returns at once). */
  start(): void {
    this.state.role = 'standby';
    this.prepareSpare();
    this.elector.start((term) => this.lead(term));
  }

  /** Graceful stop: stop reading, flush in-flight events, checkpoint, release the lease. */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.session?.drain(this.deps.options.relay.shutdownTimeoutMs);
    await this.elector.stop();
    await this.takeSpare()?.disconnect();
    if (this.state.role !== 'stopped') this.state.role = 'standby';
  }

  private async lead(term: LeaderTerm): Promise<TermOutcome> {
    if (this.stopping.signal.aborted) return 'stop';
    const { epoch, position: saved } = await this.checkpoints.takeEpoch();
    Object.assign(this.state, { epoch, leaderTerms: this.state.leaderTerms + 1 });
    const publisher = this.takeSpare() ?? this.newPublisher();
    try {
      // NOTE: the start is fixed (and saved on a first start) before connecting to Kafka: "from now"
      // means from the moment this replica won, however long the producer takes to connect.
      const position = await this.startingPosition(epoch, saved);
      if (!(await this.connect(publisher, term.signal))) return this.outcome();
      this.deps.logger.log(MESSAGES.becameLeader(this.deps.stream.name, epoch, position));
      return await this.relay(term, epoch, publisher, position);
    } catch (error) {
      if (error instanceof FencedOutError) {
        this.deps.logger.warn(MESSAGES.fencedOut(this.deps.stream.name, epoch));
        return this.outcome();
      }
      if (error instanceof StreamRejectedError) return this.stopByPolicy(error.message);
      throw error;
    } finally {
      await publisher.disconnect();
      this.prepareSpare();
    }
  }

  private newPublisher(): EventPublisher {
    return this.deps.producerThread
      ? new ThreadedKafkaPublisher(this.deps.producerThread)
      : new KafkaPublisher(
          this.deps.kafka,
          this.deps.options.kafka.producer,
          this.deps.options.kafka.compression,
        );
  }

  /**
   * Starts connecting a producer for the next term while this replica stands by (its thread
   * started, brokers connected, producer id assigned), so that a won lease, after a SIGTERM handoff
   * above all, goes straight to reading. A failed attempt is left alone: the term retries the
   * connection with backoff as for a fresh producer.
   */
  private prepareSpare(): void {
    if (this.spare || this.stopping.signal.aborted) return;
    const spare = this.newPublisher();
    spare.connect().catch(() => undefined);
    this.spare = spare;
  }

  private takeSpare(): EventPublisher | null {
    const spare = this.spare;
    this.spare = null;
    return spare;
  }

  /** Relays until the term ends; handles history lost by policy. */
  private async relay(
    term: LeaderTerm,
    epoch: number,
    publisher: EventPublisher,
    start: StreamPosition,
  ): Promise<TermOutcome> {
    let position = start;
    const context: SourceContext = { ...this.deps, epoch, status: this.state };
    while (!term.signal.aborted && !this.stopping.signal.aborted) {
      if (position.snapshot) {
        const snapshot = position.snapshot;
        const source = new SnapshotSource(context, snapshot);
        this.deps.logger.log(MESSAGES.resnapshotStart(this.deps.stream.name, snapshot.operationTime));
        if (!(await this.runSession(term, epoch, publisher, position, source))) break;
        this.deps.logger.log(MESSAGES.resnapshotDone(this.deps.stream.name, source.published));
        position = {
          ...EMPTY_POSITION,
          startAtOperationTime: snapshot.operationTime,
          clusterTime: snapshot.operationTime,
        };
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

  /** Runs one session; true when its source finished (not cut short by a lost term or a stop). */
  private async runSession(
    term: LeaderTerm,
    epoch: number,
    publisher: EventPublisher,
    position: StreamPosition,
    source: RelaySource,
  ): Promise<boolean> {
    const { relay } = this.deps.options;
    const margin = this.deps.options.lease.safetyMarginMs;
    const stillLeader = () => !term.signal.aborted && Date.now() < term.validUntil() - margin;
    const context = {
      stream: this.deps.stream.name,
      relay,
      publisher,
      checkpoints: this.checkpoints,
      epoch,
      status: this.state,
      logger: this.deps.logger,
      stillLeader,
    };
    const session = new RelaySession(context, term.signal, position);
    this.session = session;
    if (this.stopping.signal.aborted) session.drain(relay.shutdownTimeoutMs);
    try {
      await session.run(source);
    } finally {
      this.session = null;
    }
    return !term.signal.aborted && !this.stopping.signal.aborted;
  }

  /** The checkpoint's position; on a first start, now (or the configured time), saved before reading. */
  private async startingPosition(epoch: number, saved: StreamPosition): Promise<StreamPosition> {
    if (saved.resumeToken || saved.startAtOperationTime || saved.snapshot) return saved;
    const time = this.deps.stream.startAtOperationTime ?? (await currentOperationTime(this.deps.client));
    const position = { ...EMPTY_POSITION, startAtOperationTime: time, clusterTime: time };
    await this.checkpoints.save(epoch, position);
    return position;
  }

  private async connect(publisher: EventPublisher, signal: AbortSignal): Promise<boolean> {
    for (let attempt = 0; !signal.aborted && !this.stopping.signal.aborted; attempt++) {
      try {
        await publisher.connect();
        return true;
      } catch (error) {
        const delay = backoffDelay(attempt, this.deps.options.relay.backoff);
        this.state.lastError = { message: (error as Error).message, at: new Date() };
        this.deps.logger.warn(MESSAGES.kafkaConnectRetry(this.deps.stream.name, error, delay));
        await sleep(delay, AbortSignal.any([signal, this.stopping.signal]));
      }
    }
    return false;
  }

  private stopByPolicy(reason: string): TermOutcome {
    Object.assign(this.state, {
      role: 'stopped',
      stoppedReason: reason,
      lastError: { message: reason, at: new Date() },
    });
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
