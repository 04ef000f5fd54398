import { Module, type DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { CHANGE_STREAM_OPTIONS } from '../change-stream.constants';
import type { WorkerModuleOptions } from '../worker/worker-module-options';
import { handlerProviders } from '../worker/worker.providers';
import { DeadLetterSink } from '../worker/dead-letter';
import { RetryTimer } from '../worker/retry-timer';
import { EffectExecutor } from '../idempotency/effect-executor';
import type { WorkerOptions } from '../interfaces/worker-options.interface';
import { DEFAULTS } from '../options/defaults';
import { validateWorkerOptions } from '../options/worker';
import { TEST_DATABASE } from './change-event.builders';
import { ChangeStreamTester } from './change-stream.tester';
import { InMemoryEffectExecutor } from './in-memory-effect.executor';
import { RecordingDeadLetterSink } from './recording-dead-letter.sink';
import { RecordingRetryTimer } from './recording-retry.timer';

/** Options of {@link ChangeStreamTestingModule.forRoot}. */
export interface ChangeStreamTestingOptions {
  /** Database of handlers that name none. Default `'test'` (the event builders' default too). */
  database?: string;
  /** Topic prefix, as in the module's `kafka.topicPrefix`. Default `'cdc'`. */
  topicPrefix?: string;
  /** Worker options as in production (retry defaults, transaction default, ...). */
  worker?: Omit<WorkerOptions, 'database'>;
}

/**
 * Unit-tests `@ChangeHandler` classes without Kafka or MongoDB: discovers the handlers among the
 * testing module's providers, as ChangeStreamModule does, and provides ChangeStreamTester to
 * deliver events to them. Processed markers and dead letters are kept in memory; retries do not wait.
 *
 * @example
 * const moduleRef = await Test.createTestingModule({
 *   imports: [ChangeStreamTestingModule.forRoot({ database: 'shop' })],
 *   providers: [OrderEmails, { provide: Mailer, useValue: mailer }],
 * }).compile();
 * await moduleRef.init();
 * const tester = moduleRef.get(ChangeStreamTester);
 */
@Module({})
export class ChangeStreamTestingModule {
  /** The testing kit: `ChangeStreamTester` and in-memory markers, for the handlers of the importing module. */
  static forRoot(options: ChangeStreamTestingOptions = {}): DynamicModule {
    const workerOptions: WorkerModuleOptions = {
      roles: { worker: true },
      worker: validateWorkerOptions({ ...options.worker, database: options.database ?? TEST_DATABASE }),
      streams: [],
      excludeNamespaces: [],
      kafka: { topicPrefix: options.topicPrefix ?? DEFAULTS.kafka.topicPrefix },
      storage: { database: DEFAULTS.storage.database, processed: DEFAULTS.storage.processed },
    };
    return {
      module: ChangeStreamTestingModule,
      imports: [DiscoveryModule],
      providers: [
        { provide: CHANGE_STREAM_OPTIONS, useValue: workerOptions },
        ...handlerProviders,
        InMemoryEffectExecutor,
        { provide: EffectExecutor, useExisting: InMemoryEffectExecutor },
        RecordingDeadLetterSink,
        { provide: DeadLetterSink, useExisting: RecordingDeadLetterSink },
        RecordingRetryTimer,
        { provide: RetryTimer, useExisting: RecordingRetryTimer },
        ChangeStreamTester,
      ],
      exports: [ChangeStreamTester],
    };
  }
}
