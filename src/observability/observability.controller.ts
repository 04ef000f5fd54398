import { Controller, Get, Header } from '@nestjs/common';
import { HealthCheck, HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import { ChangeStreamHealthIndicator, ChangeStreamMetrics } from 'nest-change-stream';

/** GET /health (200 UP, 503 DOWN, with the change-stream details) and GET /metrics (Prometheus). */
@Controller()
export class ObservabilityController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly changeStream: ChangeStreamHealthIndicator,
    private readonly metrics: ChangeStreamMetrics,
  ) {}

  @Get('health')
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.changeStream.isHealthy('changeStream')]);
  }

  @Get('metrics')
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.metrics();
  }
}
