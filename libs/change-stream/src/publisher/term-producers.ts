import type { LoggerService } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import { MESSAGES } from '../change-stream.messages';
import type { ResolvedChangeStreamOptions } from '../interfaces/change-stream-options.interface';
import { backoffDelay, sleep } from '../utils/timers';
import type { EventPublisher, TransactionalSettings } from './event-publisher';
import { KafkaPublisher } from './kafka-publisher';
import { ThreadedKafkaPublisher, type ProducerThreadData } from './producer-thread';

/** What {@link TermProducers} needs from the stream's relay. */
export interface TermProducersDeps {
  stream: { name: string };
  options: ResolvedChangeStreamOptions;
  kafka: Kafka;
  /** Settings of a producer thread, or null to produce in this thread with `kafka`. */
  producerThread?: ProducerThreadData | null;
  logger: LoggerService;
  /** Exactly-once: the stream's transactional settings; null: idempotent producers only. */
  transactional?: TransactionalSettings | null;
}

/** Where the producer's connection attempts are recorded (the stream's RelayStats): health counts failures as a stalled publish. */
export interface ProducerConnectRecorder {
  producerConnected(): void;
  /** An attempt failed; `since` is when this term's first attempt started. */
  producerConnectFailed(error: unknown, since: Date): void;
}

/** A term's producer, and how to let it go when the term's work returns. */
export interface TermProducer {
  publisher: EventPublisher;
  /** Disconnects it (term ended normally) or makes sure it was stopped (term lost); readies a spare. */
  release(): Promise<void>;
}

/**
 * The producers of one stream's relay: one per leadership term, never reused. A spare is connected
 * while this replica stands by, so a won lease goes straight to reading. NOTE: a transactional spare
 * connects too (brokers, a plain idempotent producer id) but does not register its transactional
 * id: that would fence the current leader. The term does it after winning (EventPublisher.fence). A term's producer is
 * stopped (EventPublisher.abort) the moment its term is lost, not when the term's work returns: a
 * send left in flight (kafkajs retries inside it) must not go on under a lost lease.
 */
export class TermProducers {
  private spare: EventPublisher | null = null;

  constructor(
    private readonly deps: TermProducersDeps,
    private readonly recorder: ProducerConnectRecorder,
    private readonly stopping: AbortSignal,
  ) {}

  /**
   * Starts connecting a producer for the next term (its thread started, brokers connected, producer
   * id assigned). A failed attempt is left alone: the term retries the connection with backoff.
   */
  prepareSpare(): void {
    if (this.spare || this.stopping.aborted) return;
    const spare = this.newPublisher();
    spare.connect().catch(() => undefined);
    this.spare = spare;
  }

  /** Disconnects the spare (graceful stop). */
  async disposeSpare(): Promise<void> {
    const spare = this.spare;
    this.spare = null;
    await spare?.disconnect();
  }

  /** The producer of the term of `epoch` (the spare, else a new one), stopped at once when `term` aborts. */
  take(term: AbortSignal, epoch: number): TermProducer {
    const publisher = this.spare ?? this.newPublisher();
    this.spare = null;
    let stopped: Promise<void> | undefined;
    const stop = () => (stopped ??= this.abort(publisher, epoch));
    term.addEventListener('abort', stop, { once: true });
    const release = async () => {
      term.removeEventListener('abort', stop);
      await (term.aborted ? stop() : publisher.disconnect());
      this.prepareSpare();
    };
    return { publisher, release };
  }

  /** Connects with backoff, recording each outcome; false when `signal` or the stop aborts first. */
  async connect(publisher: EventPublisher, signal: AbortSignal): Promise<boolean> {
    const started = new Date();
    for (let attempt = 0; !signal.aborted && !this.stopping.aborted; attempt++) {
      try {
        await publisher.connect();
        this.recorder.producerConnected();
        return true;
      } catch (error) {
        const delay = backoffDelay(attempt, this.deps.options.relay.backoff);
        this.recorder.producerConnectFailed(error, started);
        this.deps.logger.warn(MESSAGES.kafkaConnectRetry(this.deps.stream.name, error, delay));
        await sleep(delay, AbortSignal.any([signal, this.stopping]));
      }
    }
    return false;
  }

  private async abort(publisher: EventPublisher, epoch: number): Promise<void> {
    await publisher.abort();
    this.deps.logger.log(MESSAGES.producerStopped(this.deps.stream.name, epoch));
  }

  private newPublisher(): EventPublisher {
    const { producerThread, kafka, options } = this.deps;
    const transactional = this.deps.transactional ?? null;
    return producerThread
      ? new ThreadedKafkaPublisher({ ...producerThread, transactional })
      : new KafkaPublisher(kafka, options.kafka.producer, options.kafka.compression, transactional);
  }
}
