import { Module, type DynamicModule } from '@nestjs/common';
import { ChangeStreamHealthModule, ChangeStreamMetricsModule, type ReadinessNeed } from 'nest-change-stream';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { AppRole } from '../config/environment';
import { ObservabilityController, READINESS_NEEDS } from './observability.controller';

/**
 * What readiness needs from the library, by APP_ROLE. Every role serves the orders API, which
 * needs MongoDB only; `all` needs nothing more, so a stream stopped by policy or a Kafka outage
 * never takes the API out of the Service. A replica that exists to relay (`relay`) or to run the
 * handlers (`worker`) is not ready without that part: a rollout then stops instead of replacing
 * every replica with ones that cannot work.
 */
export function readinessNeeds(role: AppRole): ReadinessNeed[] {
  return role === 'relay' ? ['relay'] : role === 'worker' ? ['worker'] : [];
}

/** Health and metrics of the service: the library's indicators and metrics, plus Node's default metrics. */
@Module({})
export class ObservabilityModule {
  static forRoot(role: AppRole): DynamicModule {
    // NOTE: a registry per application instance, so several instances in one process (tests) do not collide.
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    return {
      module: ObservabilityModule,
      imports: [ChangeStreamHealthModule.forRoot(), ChangeStreamMetricsModule.forRoot({ registry })],
      controllers: [ObservabilityController],
      providers: [{ provide: READINESS_NEEDS, useValue: readinessNeeds(role) }],
    };
  }
}
