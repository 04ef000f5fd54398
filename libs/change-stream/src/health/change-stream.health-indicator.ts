import { Inject, Injectable, Optional } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { assessHealth, type ChangeStreamHealthOptions } from './change-stream-health';
import { ChangeStreamInspector } from './change-stream.inspector';
import { assessReadiness, type ReadinessOptions } from './change-stream-readiness';
import { redactText } from '../utils/redact';

/** Injection token of the {@link ChangeStreamHealthOptions} (optional). */
export const CHANGE_STREAM_HEALTH_OPTIONS = Symbol('CHANGE_STREAM_HEALTH_OPTIONS');

/**
 * @nestjs/terminus indicators of this replica's change-stream roles. `isHealthy` is the full report
 * for operators and alerts (DOWN means "page someone", not "restart me": point no liveness probe at
 * it); `isReady` is readiness, from only the parts a replica's work needs.
 *
 * `isHealthy` reports role, leader or standby,
 * lease validity, lag, checkpoint age and worker state per stream; DOWN after history was lost,
 * when the relay was stopped by its policy, when a leader is stuck (nothing read, a send waiting
 * longer than `relay.maxPublishStallMs`, read events not checkpointed for longer than
 * `relay.maxCheckpointLagMs`), or while the worker drains.
 *
 * @example
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.changeStream.isHealthy()]); }
 * @Get('health/ready') @HealthCheck()
 * ready() { return this.health.check([() => this.changeStream.isReady('changeStream', { needs: ['worker'] })]); }
 */
@Injectable()
export class ChangeStreamHealthIndicator {
  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly inspector: ChangeStreamInspector,
    @Optional()
    @Inject(CHANGE_STREAM_HEALTH_OPTIONS)
    private readonly options: ChangeStreamHealthOptions = {},
  ) {}

  /** The full report of this replica's streams and workers under `key`: up, or down with the reasons. */
  async isHealthy<const Key extends string = 'changeStream'>(
    key: Key = 'changeStream' as Key,
  ): Promise<HealthIndicatorResult<Key>> {
    const session = this.indicator.check(key);
    const { roles } = this.inspector.options;
    let health;
    try {
      const { maxPublishStallMs, maxCheckpointLagMs } = this.inspector.options.relay;
      const limits = { maxPublishStallMs, maxCheckpointLagMs, ...this.options };
      health = assessHealth(await this.inspector.inspect(), roles, limits);
    } catch (error) {
      return session.down({
        problems: [`cannot read the change-stream state: ${redactText((error as Error).message)}`],
      });
    }
    const { up, ...details } = health;
    return up ? session.up(details) : session.down(details);
  }

  /**
   * Readiness: DOWN only when a part this replica's work `needs` cannot do its share now (a stream
   * stopped by policy or not started, for `relay`; a worker not running in its consumer group, for
   * `worker`). Never DOWN for a Kafka outage on the relay side, nor for lag: every replica
   * would fail together. Reads no server (no I/O). Default `needs`: none, always UP.
   */
  isReady<const Key extends string = 'changeStream'>(
    key: Key = 'changeStream' as Key,
    { needs = [] }: ReadinessOptions = {},
  ): HealthIndicatorResult<Key> {
    const session = this.indicator.check(key);
    const { roles } = this.inspector.options;
    const { ready, ...details } = assessReadiness(this.inspector.statuses(), roles, needs);
    return ready ? session.up(details) : session.down(details);
  }
}
