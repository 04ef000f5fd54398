import { Controller, Get, Header, Inject } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  MongooseHealthIndicator,
  type HealthCheckResult,
} from '@nestjs/terminus';
import {
  ChangeStreamHealthIndicator,
  ChangeStreamMetrics,
  EventLoopHealthIndicator,
  type ReadinessNeed,
} from 'nest-change-stream';

/** Injection token of what this replica's readiness needs from the library (by APP_ROLE). */
export const READINESS_NEEDS = Symbol('READINESS_NEEDS');

/**
 * Three health endpoints with three meanings (200 UP, 503 DOWN), and GET /metrics (Prometheus):
 * - /health/live: liveness, the event loop responds; never MongoDB, Kafka or Redis;
 * - /health/ready: readiness, this replica can do its share of work (MongoDB answers a ping, and
 *   the library parts its role needs);
 * - /health: the full change-stream report for operators and alerts; DOWN means "page someone".
 */
@Controller()
export class ObservabilityController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly changeStream: ChangeStreamHealthIndicator,
    private readonly eventLoop: EventLoopHealthIndicator,
    private readonly mongoose: MongooseHealthIndicator,
    private readonly metrics: ChangeStreamMetrics,
    @Inject(READINESS_NEEDS) private readonly needs: ReadinessNeed[],
  ) {}

  @Get('health')
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.changeStream.isHealthy('changeStream')]);
  }

  @Get('health/live')
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([() => this.eventLoop.isLive('eventLoop')]);
  }

  @Get('health/ready')
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.mongoose.pingCheck('mongodb'),
      () => this.changeStream.isReady('changeStream', { needs: this.needs }),
    ]);
  }

  @Get('metrics')
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.metrics();
  }
}
