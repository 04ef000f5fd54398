import { Inject, Injectable } from '@nestjs/common';
import { Counter, Histogram, register as defaultRegistry, type Registry } from 'prom-client';
import type { ChangeStreamReport } from '../health/change-stream.inspector';
import { ChangeStreamInspector } from '../health/change-stream.inspector';
import { workerMetrics } from './worker-metrics';
import { MetricFactory } from './metric-factory';
import { oplogGauges, relayCounters, relayGauges } from './relay-metrics';

/** Options of ChangeStreamMetricsModule. */
export interface ChangeStreamMetricsOptions {
  /** Registry to register into. Default: prom-client's global `register`. */
  registry?: Registry;
  /** Prefix of every metric name. Default `'change_stream_'`. */
  prefix?: string;
  /** Buckets of the handler duration histogram, in seconds. */
  durationBuckets?: number[];
}

/** Injection token of the {@link ChangeStreamMetricsOptions}. */
export const CHANGE_STREAM_METRICS_OPTIONS = Symbol('CHANGE_STREAM_METRICS_OPTIONS');

/**
 * The Prometheus metrics of this replica's change-stream roles. Relay figures are read from the
 * library's state at scrape time (labelled by `stream`); handler figures are recorded as handlers run
 * (labelled by `handler`, through ChangeHandlerMetricsInterceptor).
 */
@Injectable()
export class ChangeStreamMetrics {
  readonly registry: Registry;
  /** Handler invocations by outcome (`success` | `error`). */
  readonly handlerInvocations: Counter<'handler' | 'outcome'>;
  /** Events passed to handler invocations by outcome: one per `@ChangeHandler` call, the array's length per `@ChangeBatchHandler` call. */
  readonly handlerEvents: Counter<'handler' | 'outcome'>;
  readonly handlerDuration: Histogram<'handler'>;
  /**
   * Messages stored in a dead-letter topic, by `reason` (`handler-failed`, `undecodable`, ...) and
   * `handler` (empty when no handler is involved). Read from the worker's state at scrape time.
   */
  readonly deadLetters: Counter<'reason' | 'handler'>;
  /** The report being read: the metrics of one scrape collect concurrently and share it. */
  private pending: Promise<ChangeStreamReport> | undefined;

  constructor(
    private readonly inspector: ChangeStreamInspector,
    @Inject(CHANGE_STREAM_METRICS_OPTIONS) options: ChangeStreamMetricsOptions,
  ) {
    const registry = (this.registry = options.registry ?? defaultRegistry);
    const p = options.prefix ?? 'change_stream_';
    const registers = [registry];

    this.handlerInvocations = new Counter({
      name: `${p}handler_invocations_total`,
      help: 'Handler invocations (each attempt), by handler and outcome (success | error).',
      labelNames: ['handler', 'outcome'],
      registers,
    });
    this.handlerEvents = new Counter({
      name: `${p}handler_events_total`,
      help: 'Events passed to handler invocations (a batch handler call counts its events), by handler and outcome (success | error).',
      labelNames: ['handler', 'outcome'],
      registers,
    });
    this.handlerDuration = new Histogram({
      name: `${p}handler_duration_seconds`,
      help: 'Duration of handler invocations, by handler.',
      labelNames: ['handler'],
      buckets: options.durationBuckets ?? [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });

    const factory = new MetricFactory(p, registers, () => this.inspect());
    relayCounters(factory);
    relayGauges(factory);
    oplogGauges(factory);
    this.deadLetters = workerMetrics(factory);
  }

  /** The metrics in the Prometheus text format. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  private inspect(): Promise<ChangeStreamReport> {
    this.pending ??= this.inspector.inspect().finally(() => (this.pending = undefined));
    return this.pending;
  }
}
