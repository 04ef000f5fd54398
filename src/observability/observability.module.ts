import { Module } from '@nestjs/common';
import { ChangeStreamHealthModule, ChangeStreamMetricsModule } from 'nest-change-stream';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { ObservabilityController } from './observability.controller';

/** Health and metrics of the service: the library's indicator and metrics, plus Node's default metrics. */
@Module({})
export class ObservabilityModule {
  static forRoot() {
    // NOTE: a registry per application instance, so several instances in one process (tests) do not collide.
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    return {
      module: ObservabilityModule,
      imports: [ChangeStreamHealthModule.forRoot(), ChangeStreamMetricsModule.forRoot({ registry })],
      controllers: [ObservabilityController],
    };
  }
}
