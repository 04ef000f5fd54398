import { Injectable } from '@nestjs/common';
import type { IHeaders } from 'kafkajs';
import { ChangeDispatcher } from '../worker/change-dispatcher';
import type { DispatchReport } from '../worker/dispatch-report';
import type { ChangeMessage } from '../worker/change-message';
import { ChangeHandlerRegistry, type ChangeHandlerRegistration } from '../handlers/change-handler.registry';
import type { DeadLetter } from '../worker/dead-letter';
import type { ChangeEvent, ChangeOperationType } from '../events/change-event.interface';
import type { Document } from 'bson';
import { changeEvents, toKafkaMessage, type MarkerBuildOptions } from './change-event.builders';
import { InMemoryEffectExecutor } from './in-memory-effect.executor';
import { RecordingDeadLetterSink } from './recording-dead-letter.sink';
import { RecordingRetryTimer } from './recording-retry.timer';

/** Where a test event is delivered from. */
export interface TestDeliveryOptions {
  /** Deliver on this topic. Default: the topics of the handlers of the event's namespace. */
  topic?: string;
  /** The event id. Default: `event._id._data`. */
  eventId?: string;
  /** The publishing leader's epoch. Default 1. */
  epoch?: number;
  /** Kafka partition. Default 0. */
  partition?: number;
}

/** A discovered handler, as the tester reports it. */
export interface DiscoveredChangeHandler {
  id: string;
  label: string;
  database: string;
  collection: string;
  topic: string;
  operationTypes: ChangeOperationType[] | null;
  transaction: boolean;
  /** A `@ChangeBatchHandler` (it receives arrays of events). */
  batch: boolean;
}

/**
 * Delivers typed events to the discovered `@ChangeHandler` methods the way a worker does (encoded
 * to the Kafka wire format and decoded again, filtered, run through enhancers, retried, deduplicated
 * by event id, dead-lettered), without Kafka or MongoDB. Provided by ChangeStreamTestingModule.
 *
 * @example
 * const report = await tester.dispatch(changeEvents.insert('orders', order));
 * expect(report.handlers).toEqual([expect.objectContaining({ handlerId: 'OrderEmails.onOrder', outcome: 'applied' })]);
 */
@Injectable()
export class ChangeStreamTester {
  private offset = 0;

  constructor(
    private readonly registry: ChangeHandlerRegistry,
    private readonly dispatcher: ChangeDispatcher,
    private readonly markers: InMemoryEffectExecutor,
    private readonly sink: RecordingDeadLetterSink,
    private readonly timer: RecordingRetryTimer,
  ) {}

  /** The handlers discovery found. */
  handlers(): DiscoveredChangeHandler[] {
    return this.registrations().map((r) => ({
      id: r.id,
      label: r.label,
      database: r.database,
      collection: r.collection,
      topic: r.topic,
      operationTypes: r.operationTypes ? [...r.operationTypes] : null,
      transaction: r.transaction,
      batch: r.invokeBatch !== undefined,
    }));
  }

  /** Messages the handlers gave up on (after their retries), and undecodable ones. */
  get deadLetters(): readonly DeadLetter[] {
    return this.sink.letters;
  }

  /** The waits between retries a real worker would have made, in ms (the tester does not wait). */
  get retryDelays(): readonly number[] {
    return this.timer.delays;
  }

  /** Whether the handler's effect for the event, or its dead letter, is recorded (a repeat would be skipped). */
  isProcessed(handlerId: string, eventId: string): boolean {
    return this.markers.has(handlerId, eventId);
  }

  /**
   * Delivers an event to the handlers of its namespace (or of `options.topic`). Resolves when every
   * handler is done, with what each one did: `applied`, `duplicate`, `filtered` or `dead-lettered`.
   * Delivering the same event again returns `duplicate` for the handlers that applied it.
   */
  async dispatch(event: ChangeEvent, options: TestDeliveryOptions = {}): Promise<DispatchReport> {
    const encoded = toKafkaMessage(event, { eventId: options.eventId, epoch: options.epoch });
    const merged: DispatchReport = { complete: true, handlers: [] };
    for (const topic of this.topicsOf(event, options.topic)) {
      const report = await this.deliver(
        { topic, value: encoded.value, key: encoded.key, headers: encoded.headers },
        options.partition,
      );
      merged.complete &&= report.complete;
      merged.handlers.push(...report.handlers);
    }
    return merged;
  }

  /**
   * Delivers several events as consecutive messages of one partition, the way a worker fetches them:
   * they share one transaction, and a `@ChangeBatchHandler` gets them in one call (a failing call
   * retries them one by one). One report per event, in order, merged over the topics it goes to.
   */
  async dispatchBatch(
    events: readonly ChangeEvent[],
    options: Omit<TestDeliveryOptions, 'eventId'> = {},
  ): Promise<DispatchReport[]> {
    const merged = events.map((): DispatchReport => ({ complete: true, handlers: [] }));
    const byTopic = new Map<string, Array<{ index: number; message: ChangeMessage }>>();
    events.forEach((event, index) => {
      const encoded = toKafkaMessage(event, { epoch: options.epoch });
      for (const topic of this.topicsOf(event, options.topic)) {
        const list = byTopic.get(topic) ?? [];
        list.push({ index, message: this.message(topic, encoded, options.partition) });
        byTopic.set(topic, list);
      }
    });
    for (const list of byTopic.values()) {
      const { reports } = await this.dispatcher.dispatchBatch(list.map((m) => m.message));
      list.forEach(({ index }, i) => {
        const report = reports[i] ?? { complete: false, handlers: [] };
        merged[index].complete &&= report.complete;
        merged[index].handlers.push(...report.handlers);
      });
    }
    return merged;
  }

  /**
   * Delivers a resnapshot run over `collection` in the order a worker sees it: the start marker on
   * each of `options.partitions` partitions (default 1), a `snapshot` event per document (on
   * partition 0), then the end marker on each partition. One report per message, in that order.
   */
  async dispatchResnapshot(
    collection: string,
    documents: readonly Document[],
    options: Omit<MarkerBuildOptions, 'partition'> = {},
  ): Promise<DispatchReport[]> {
    const start = changeEvents.snapshotStart(collection, options);
    const run = { ...options, runId: start.runId, clusterTime: start.clusterTime };
    const partitions = [...Array(options.partitions ?? 1).keys()];
    const reports: DispatchReport[] = [];
    for (const partition of partitions) {
      reports.push(
        await this.dispatch(changeEvents.snapshotStart(collection, { ...run, partition }), { partition }),
      );
    }
    for (const document of documents) {
      reports.push(await this.dispatch(changeEvents.snapshot(collection, document, run), { partition: 0 }));
    }
    for (const partition of partitions) {
      reports.push(
        await this.dispatch(changeEvents.snapshotEnd(collection, { ...run, partition }), { partition }),
      );
    }
    return reports;
  }

  /** Delivers raw bytes on a topic, e.g. to test what happens to a message that is not a change event. */
  async deliver(
    message: {
      topic: string;
      value: string | Buffer | null;
      key?: string | Buffer | null;
      headers?: IHeaders;
    },
    partition = 0,
  ): Promise<DispatchReport> {
    this.assertReady();
    return this.dispatcher.dispatch(this.message(message.topic, message, partition));
  }

  private message(
    topic: string,
    message: { value: string | Buffer | null; key?: string | Buffer | null; headers?: IHeaders },
    partition = 0,
  ): ChangeMessage {
    return {
      topic,
      partition,
      offset: String(this.offset++),
      key: message.key == null ? null : Buffer.from(message.key),
      value: message.value == null ? null : Buffer.from(message.value),
      headers: message.headers ?? {},
    };
  }

  /** Forgets processed markers, dead letters and recorded delays. */
  reset(): void {
    this.markers.clear();
    this.sink.letters.length = 0;
    this.timer.delays.length = 0;
  }

  private topicsOf(event: ChangeEvent, topic: string | undefined): string[] {
    if (topic) return [topic];
    const ns = (event as { ns?: { db?: string; coll?: string } }).ns;
    if (!ns?.db) {
      throw new Error(
        `ChangeStreamTester: a "${event.operationType}" event carries no namespace; pass { topic }`,
      );
    }
    // NOTE: a resnapshot marker names its run's collections; it goes to their handlers' topics.
    const collections = (event as { collections?: readonly string[] }).collections;
    const matching = this.registrations().filter(
      (r) =>
        r.database === ns.db &&
        (ns.coll === undefined || r.collection === ns.coll) &&
        (collections === undefined || collections.includes(r.collection)),
    );
    return [...new Set(matching.map((r) => r.topic))];
  }

  private registrations(): ChangeHandlerRegistration[] {
    this.assertReady();
    return this.registry.all();
  }

  private assertReady(): void {
    if (!this.registry.ready) {
      throw new Error(
        'ChangeStreamTester: handlers are discovered in onModuleInit; call `await moduleRef.init()` first',
      );
    }
  }
}
