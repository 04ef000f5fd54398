import { Counter, Gauge, type Registry } from 'prom-client';
import type { WorkerStatus } from '../worker/worker-status';
import type { ChangeStreamReport } from '../health/change-stream.inspector';
import type { StreamStatus } from '../health/stream-status';

/** Seconds of `ms`. */
export const seconds = (ms: number): number => ms / 1000;

/**
 * Makes the metrics read at scrape time: named with the prefix, registered, filled from the one
 * report a scrape shares. The library's counts are cumulative: counters mirror them as increments.
 */
export class MetricFactory {
  /** Last values of the library's cumulative counters, to turn them into Counter increments. */
  private readonly mirrored = new Map<string, number>();

  constructor(
    private readonly prefix: string,
    private readonly registers: Registry[],
    private readonly inspect: () => Promise<ChangeStreamReport>,
  ) {}

  /** A counter by `stream` of a stream's cumulative count. */
  streamCounter(name: string, help: string, pick: (s: StreamStatus) => number): Counter<'stream'> {
    return this.mirror(name, help, ['stream'], (r) =>
      r.relay.streams.map((s) => ({ key: s.name, labels: { stream: s.name }, value: pick(s) })),
    );
  }

  /** A counter by `group` of the worker's cumulative count. */
  workerCounter(name: string, help: string, pick: (c: WorkerStatus) => number): Counter<'group'> {
    return this.mirror(name, help, ['group'], (r) => {
      const { worker } = r;
      return worker ? [{ key: worker.groupId, labels: { group: worker.groupId }, value: pick(worker) }] : [];
    });
  }

  /** A counter of cumulative counts, one per `key` the report gives (labelled by `labels`). */
  mirror<L extends string>(
    name: string,
    help: string,
    labelNames: L[],
    values: (r: ChangeStreamReport) => Array<{ key: string; labels: Record<L, string>; value: number }>,
  ): Counter<L> {
    const { inspect } = this;
    const collectDelta = this.collectDelta.bind(this);
    return new Counter({
      name: `${this.prefix}${name}`,
      help,
      labelNames,
      registers: this.registers,
      collect: async function (this: Counter<L>) {
        for (const { key, labels, value } of values(await inspect()))
          collectDelta(this, `${name}\u0000${key}`, labels, value);
      },
    });
  }

  /** A gauge set afresh from each scrape's report. */
  gauge(
    name: string,
    help: string,
    labelNames: string[],
    fill: (g: Gauge, r: ChangeStreamReport) => void,
  ): Gauge {
    const { inspect } = this;
    return new Gauge({
      name: `${this.prefix}${name}`,
      help,
      labelNames,
      registers: this.registers,
      collect: async function (this: Gauge) {
        this.reset();
        fill(this, await inspect());
      },
    });
  }

  /** A gauge by `stream`; a stream whose `value` is null has no series. */
  perStream(
    name: string,
    help: string,
    value: (s: StreamStatus, r: ChangeStreamReport) => number | null,
  ): Gauge {
    return this.gauge(name, help, ['stream'], (g, r) => {
      for (const s of r.relay.streams) {
        const v = value(s, r);
        if (v !== null) g.set({ stream: s.name }, v);
      }
    });
  }

  private collectDelta<L extends string>(
    counter: Counter<L>,
    key: string,
    labels: Record<L, string>,
    value: number,
  ) {
    const delta = value - (this.mirrored.get(key) ?? 0);
    if (delta > 0) counter.inc(labels, delta);
    this.mirrored.set(key, Math.max(value, this.mirrored.get(key) ?? 0));
  }
}
