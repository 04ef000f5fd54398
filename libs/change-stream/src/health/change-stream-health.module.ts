import { Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import type { ChangeStreamHealthOptions } from './change-stream-health';
import { CHANGE_STREAM_HEALTH_OPTIONS, ChangeStreamHealthIndicator } from './change-stream.health-indicator';
import { ChangeStreamInspector } from './change-stream.inspector';

/**
 * Provides {@link ChangeStreamHealthIndicator} (and the ChangeStreamInspector it reads) to the
 * importing module. Import it next to ChangeStreamModule; it needs @nestjs/terminus.
 */
@Module({})
export class ChangeStreamHealthModule {
  static forRoot(options: ChangeStreamHealthOptions = {}): DynamicModule {
    return {
      module: ChangeStreamHealthModule,
      imports: [TerminusModule],
      providers: [
        { provide: CHANGE_STREAM_HEALTH_OPTIONS, useValue: options },
        ChangeStreamInspector,
        ChangeStreamHealthIndicator,
      ],
      exports: [ChangeStreamHealthIndicator, ChangeStreamInspector, TerminusModule],
    };
  }
}
