import { Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import type { ChangeStreamHealthOptions } from './change-stream-health';
import { CHANGE_STREAM_HEALTH_OPTIONS, ChangeStreamHealthIndicator } from './change-stream.health-indicator';
import { ChangeStreamInspector } from './change-stream.inspector';
import { EventLoopHealthIndicator } from './event-loop.health-indicator';
import { validateHealthOptions } from './health-options';

/**
 * Provides {@link ChangeStreamHealthIndicator} (health and readiness, and the ChangeStreamInspector
 * it reads) and {@link EventLoopHealthIndicator} (liveness) to the importing module, with
 * @nestjs/terminus' own indicators (TerminusModule, e.g. MongooseHealthIndicator). Import it next
 * to ChangeStreamModule. A bad option fails at start-up with InvalidOptionsError.
 */
@Module({})
export class ChangeStreamHealthModule {
  /** The health indicators, with these thresholds (every one has a default). */
  static forRoot(options: ChangeStreamHealthOptions = {}): DynamicModule {
    return {
      module: ChangeStreamHealthModule,
      imports: [TerminusModule],
      providers: [
        { provide: CHANGE_STREAM_HEALTH_OPTIONS, useValue: validateHealthOptions(options) },
        ChangeStreamInspector,
        ChangeStreamHealthIndicator,
        EventLoopHealthIndicator,
      ],
      exports: [ChangeStreamHealthIndicator, EventLoopHealthIndicator, ChangeStreamInspector, TerminusModule],
    };
  }
}
