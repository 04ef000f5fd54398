import { Inject, Injectable, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { DEFAULTS } from '../options/defaults';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import type { ChangeStreamHealthOptions } from './change-stream-health';
import { CHANGE_STREAM_HEALTH_OPTIONS } from './change-stream.health-indicator';

/** How often the delay monitor samples the loop, in ms. */
const RESOLUTION_MS = 20;
/**
 * The worst delay is kept over the last one or two of these windows: a probe every 10 s (the
 * kubelet's default period) sees every stall since the probe before it.
 */
const WINDOW_MS = 10_000;
const nsToMs = (ns: number) => Math.round(ns / 1e6);

/**
 * A @nestjs/terminus liveness indicator: the process and its event loop respond. It never looks at
 * MongoDB, Kafka or Redis, so an outage of one of them restarts nothing. DOWN when the event loop
 * was blocked (measured with `monitorEventLoopDelay`) longer than `maxEventLoopDelayMs` (default
 * `DEFAULTS.health.maxEventLoopDelayMs`) within the last 10 to 20 s. A loop blocked right now cannot
 * answer at all: the probe's own timeout fails it.
 *
 * @example
 * @Get('health/live') @HealthCheck()
 * live() { return this.health.check([() => this.eventLoop.isLive()]); }
 */
@Injectable()
export class EventLoopHealthIndicator implements OnModuleInit, OnModuleDestroy {
  private readonly limitMs: number;
  private histogram: IntervalHistogram | undefined;
  private rotation: NodeJS.Timeout | undefined;
  /** Worst delay of the window before the current one, in ns. */
  private previousMaxNs = 0;

  constructor(
    private readonly indicator: HealthIndicatorService,
    @Optional()
    @Inject(CHANGE_STREAM_HEALTH_OPTIONS)
    options: ChangeStreamHealthOptions = {},
  ) {
    this.limitMs = delayLimit(options.maxEventLoopDelayMs);
  }

  /** Starts measuring the event-loop delay. */
  onModuleInit(): void {
    this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.histogram.enable();
    this.rotation = setInterval(() => this.rotate(), WINDOW_MS).unref();
  }

  /** Stops measuring. */
  onModuleDestroy(): void {
    clearInterval(this.rotation);
    this.histogram?.disable();
  }

  /** UP with the worst recent delay and the limit, or DOWN naming how long the loop was blocked. */
  isLive<const Key extends string = 'eventLoop'>(key: Key = 'eventLoop' as Key): HealthIndicatorResult<Key> {
    const session = this.indicator.check(key);
    const maxDelayMs = nsToMs(Math.max(this.previousMaxNs, this.histogram?.max ?? 0));
    const details = { maxDelayMs, limitMs: this.limitMs };
    if (maxDelayMs <= this.limitMs) return session.up(details);
    return session.down({
      ...details,
      problems: [`event loop blocked for ${maxDelayMs} ms (limit ${this.limitMs} ms)`],
    });
  }

  private rotate(): void {
    this.previousMaxNs = this.histogram?.max ?? 0;
    this.histogram?.reset();
  }
}

function delayLimit(value: number | undefined): number {
  const limit = value ?? DEFAULTS.health.maxEventLoopDelayMs;
  if (typeof limit !== 'number' || !Number.isFinite(limit) || limit <= 0) {
    throw new InvalidOptionsError(
      'maxEventLoopDelayMs',
      'a positive number of ms (ChangeStreamHealthModule.forRoot)',
      value,
    );
  }
  return limit;
}
