import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, register as defaultRegistry, type Registry } from 'prom-client';
import type { ChangeStreamReport } from '../health/change-stream.inspector';
import { ChangeStreamInspector } from '../health/change-stream.inspector';
import { relayStall } from '../health/relay-stall';
import type { ConsumerStatus } from '../consumer/change-event.consumer';

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

const seconds = (ms: number): number => ms / 1000;

/**
 * The Prometheus metrics of this replica's change-stream roles. Listener figures are read from the
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
  /** Last values of the library's cumulative counters, to turn them into Counter increments. */
  private readonly mirrored = new Map<string, number>();

  constructor(
    private readonly inspector: ChangeStreamInspector,
    @Inject(CHANGE_STREAM_METRICS_OPTIONS) options: ChangeStreamMetricsOptions,
  ) {
    const registry = (this.registry = options.registry ?? defaultRegistry);
    const p = options.prefix ?? 'change_stream_';
    const registers = [registry];
    const inspect = () => this.inspect();

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

    const mirror = (
      name: string,
      help: string,
      pick: (s: ChangeStreamReport['listener']['streams'][number]) => number,
    ) =>
      new Counter({
        name: `${p}${name}`,
        help,
        labelNames: ['stream'],
        registers,
        collect: async function (this: Counter<'stream'>) {
          for (const s of (await inspect()).listener.streams)
            collectDelta(this, `${name}\u0000${s.name}`, { stream: s.name }, pick(s));
        },
      });
    const collectDelta = <L extends string>(
      counter: Counter<L>,
      key: string,
      labels: Record<L, string>,
      value: number,
    ) => {
      const delta = value - (this.mirrored.get(key) ?? 0);
      if (delta > 0) counter.inc(labels, delta);
      this.mirrored.set(key, Math.max(value, this.mirrored.get(key) ?? 0));
    };
    mirror(
      'events_published_total',
      'Change events published to Kafka and acknowledged.',
      (s) => s.eventsPublished,
    );
    mirror(
      'events_read_total',
      'Change events read from the change stream by this replica.',
      (s) => s.eventsRead,
    );
    mirror(
      'publish_batches_total',
      'Kafka batches acknowledged (events_published_total / publish_batches_total = mean batch size).',
      (s) => s.batchesPublished,
    );
    mirror(
      'publish_failures_total',
      'Kafka sends that failed (retried with backoff).',
      (s) => s.publishFailures,
    );
    mirror(
      'unpublishable_events_total',
      'Change events the relay could not publish (bad topic, too large): the stream stopped on them, or they were dead-lettered (relay.onUnpublishable).',
      (s) => s.unpublishableEvents,
    );
    mirror('checkpoints_written_total', 'Checkpoints saved.', (s) => s.checkpointsWritten);
    mirror('leadership_changes_total', 'Leadership terms this replica started.', (s) => s.leaderTerms);
    mirror(
      'relay_restarts_total',
      'Terms that failed on an error no policy covers; each backed off and campaigned again (/health: restarting).',
      (s) => s.restarts,
    );

    const gauge = (
      name: string,
      help: string,
      labelNames: string[],
      fill: (g: Gauge, r: ChangeStreamReport) => void,
    ) =>
      new Gauge({
        name: `${p}${name}`,
        help,
        labelNames,
        registers,
        collect: async function (this: Gauge) {
          this.reset();
          fill(this, await inspect());
        },
      });
    const perStream = (
      name: string,
      help: string,
      value: (s: ChangeStreamReport['listener']['streams'][number], r: ChangeStreamReport) => number | null,
    ) =>
      gauge(name, help, ['stream'], (g, r) => {
        for (const s of r.listener.streams) {
          const v = value(s, r);
          if (v !== null) g.set({ stream: s.name }, v);
        }
      });
    const checkpointOf = (r: ChangeStreamReport, stream: string) =>
      r.checkpoints.find((c) => c.stream === stream);

    perStream('leader', '1 when this replica leads the stream, else 0.', (s) =>
      s.role === 'leader' ? 1 : 0,
    );
    perStream('epoch', 'Epoch of the current (or last) leadership term.', (s) => s.epoch);
    perStream('lease_valid_seconds', 'How long the held lease is still valid (leader only).', (s, r) =>
      s.role === 'leader' && s.leaseValidUntil !== null ? seconds(s.leaseValidUntil - r.at.getTime()) : null,
    );
    perStream('publish_batch_size', 'Events in the last batch Kafka acknowledged.', (s) => s.lastBatchSize);
    perStream('in_flight_events', 'Events read but not yet acknowledged by Kafka.', (s) => s.inFlightEvents);
    perStream(
      'publish_consecutive_failures',
      'Failed Kafka sends (and producer connections) since Kafka last acknowledged one; 0 when not leading.',
      (s) => (s.role === 'leader' ? s.consecutivePublishFailures : 0),
    );
    perStream(
      'publish_stalled_seconds',
      "How long the leader's unacknowledged send (or producer connection) has waited for Kafka; 0 while nothing waits. /health is DOWN above relay.maxPublishStallMs.",
      (s, r) => seconds(relayStall(s, r.at.getTime()).publishStalledMs ?? 0),
    );
    perStream(
      'checkpoint_pending_seconds',
      'How long the oldest event the leader read has waited for its checkpoint; 0 while the checkpoint covers all. /health is DOWN above relay.maxCheckpointLagMs.',
      (s, r) => seconds(relayStall(s, r.at.getTime()).checkpointLagMs ?? 0),
    );
    perStream('stopped', '1 when a policy stopped the stream (history lost, rejected pipeline).', (s) =>
      s.stoppedReason ? 1 : 0,
    );
    perStream(
      'checkpoint_lag_seconds',
      'Now minus the cluster time of the last checkpointed event.',
      (s, r) => {
        const time = checkpointOf(r, s.name)?.eventTime;
        return time ? seconds(r.at.getTime() - time.getTime()) : null;
      },
    );
    perStream('checkpoint_age_seconds', 'Time since the checkpoint was last written.', (s, r) => {
      const saved = checkpointOf(r, s.name)?.savedAt;
      return saved ? seconds(r.at.getTime() - saved.getTime()) : null;
    });
    perStream(
      'last_read_age_seconds',
      'Time since the leader last read from its stream (grows when stuck, not when idle).',
      (s, r) =>
        s.role === 'leader' && s.lastReadAt ? seconds(r.at.getTime() - s.lastReadAt.getTime()) : null,
    );
    perStream(
      'lag_oplog_window_ratio',
      'Checkpoint lag as a share of the oplog window (1 = history about to be lost).',
      (s, r) => {
        const time = checkpointOf(r, s.name)?.eventTime;
        if (!time || !r.oplog) return null;
        const window = r.oplog.last.getTime() - r.oplog.first.getTime();
        return window > 0 ? (r.at.getTime() - time.getTime()) / window : null;
      },
    );
    // NOTE: label-less gauges always print a value; NaN (not 0) says "unreadable" without faking a window.
    gauge('oplog_first_timestamp_seconds', 'Time of the oldest oplog entry (when readable).', [], (g, r) => {
      g.set(r.oplog ? seconds(r.oplog.first.getTime()) : Number.NaN);
    });
    gauge('oplog_last_timestamp_seconds', 'Time of the newest oplog entry (when readable).', [], (g, r) => {
      g.set(r.oplog ? seconds(r.oplog.last.getTime()) : Number.NaN);
    });
    gauge('oplog_window_seconds', 'Newest minus oldest oplog entry time (when readable).', [], (g, r) => {
      g.set(r.oplog ? seconds(r.oplog.last.getTime() - r.oplog.first.getTime()) : Number.NaN);
    });
    const consumerCounter = (name: string, help: string, pick: (c: ConsumerStatus) => number) =>
      new Counter({
        name: `${p}${name}`,
        help,
        labelNames: ['group'],
        registers,
        collect: async function (this: Counter<'group'>) {
          const { consumer } = await inspect();
          if (consumer)
            collectDelta(
              this,
              `${name}\u0000${consumer.groupId}`,
              { group: consumer.groupId },
              pick(consumer),
            );
        },
      });
    consumerCounter(
      'consumer_messages_total',
      'Messages every handler is done with (applied, duplicate, filtered or dead-lettered), counted once per delivery.',
      (c) => c.completedMessages,
    );
    consumerCounter(
      'consumer_shared_messages_total',
      'Messages whose effects committed in a shared transaction (worker.batchSize).',
      (c) => c.sharedMessages,
    );
    consumerCounter(
      'consumer_shared_fallbacks_total',
      'Shared transactions that failed for a reason no handler caused (write conflict, redelivery); their messages ran one transaction each.',
      (c) => c.sharedFallBacks,
    );
    consumerCounter(
      'consumer_restarts_total',
      'Kafka consumers recreated in the group after kafkajs gave up on one (CRASH without restart).',
      (c) => c.restarts,
    );
    this.deadLetters = new Counter({
      name: `${p}dead_letters_total`,
      help: 'Messages stored in a dead-letter topic, by reason (handler-failed | undecodable | ...) and handler.',
      labelNames: ['reason', 'handler'],
      registers,
      collect: async function (this: Counter<'reason' | 'handler'>) {
        for (const { reason, handler, count } of (await inspect()).consumer?.deadLetters ?? [])
          collectDelta(this, `dead_letters\u0000${reason}\u0000${handler}`, { reason, handler }, count);
      },
    });
    gauge('consumer_running', '1 while the consumer runs in its group, else 0.', ['group'], (g, r) => {
      if (r.consumer) g.set({ group: r.consumer.groupId }, r.consumer.state === 'running' ? 1 : 0);
    });
    gauge(
      'consumer_assigned_partitions',
      'Partitions assigned to this worker at the last group join.',
      ['group'],
      (g, r) => {
        if (!r.consumer) return;
        const n = Object.values(r.consumer.assignment).reduce((sum, parts) => sum + parts.length, 0);
        g.set({ group: r.consumer.groupId }, n);
      },
    );
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
