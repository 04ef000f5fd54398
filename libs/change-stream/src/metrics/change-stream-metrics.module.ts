import { Module, type DynamicModule } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { ChangeStreamInspector } from '../health/change-stream.inspector';
import { ChangeHandlerMetricsInterceptor } from './change-handler-metrics.interceptor';
import {
  CHANGE_STREAM_METRICS_OPTIONS,
  ChangeStreamMetrics,
  type ChangeStreamMetricsOptions,
} from './change-stream.metrics';

/**
 * Prometheus metrics (prom-client) of the change-stream roles: provides {@link ChangeStreamMetrics}
 * and registers ChangeHandlerMetricsInterceptor globally. Serve `metrics.metrics()` on your
 * /metrics route. Import it once, next to ChangeStreamModule.
 */
@Module({})
export class ChangeStreamMetricsModule {
  /** The metrics, registered in `options.registry` (default: prom-client's default registry). */
  static forRoot(options: ChangeStreamMetricsOptions = {}): DynamicModule {
    return {
      module: ChangeStreamMetricsModule,
      providers: [
        { provide: CHANGE_STREAM_METRICS_OPTIONS, useValue: options },
        ChangeStreamInspector,
        ChangeStreamMetrics,
        { provide: APP_INTERCEPTOR, useClass: ChangeHandlerMetricsInterceptor },
      ],
      exports: [ChangeStreamMetrics],
    };
  }
}
