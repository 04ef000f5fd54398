import type { Provider } from '@nestjs/common';
import { ChangeHandlerMetadataAccessor } from '../handlers/change-handler-metadata.accessor';
import { ChangeHandlerExplorer } from '../handlers/change-handler.explorer';
import { AppliedOffsetStore } from '../idempotency/applied-offset.store';
import { EffectExecutor } from '../idempotency/effect-executor';
import { MongoEffectExecutor } from '../idempotency/mongo-effect.executor';
import { ProcessedEventStore } from '../idempotency/processed-event.store';
import { ChangeDispatcher } from './change-dispatcher';
import { ChangeEventWorker } from './change-event.worker';
import { ChangeHandlerRegistry } from '../handlers/change-handler.registry';
import { DeadLetterSink } from './dead-letter';
import { DeadLetterRedriver } from './dead-letter.redriver';
import { HandlerInvokerFactory } from '../handlers/handler-invoker.factory';
import { KafkaDeadLetterPublisher } from './kafka-dead-letter.publisher';
import { MarkerRetentionCheck } from './marker-retention';
import { RetryTimer, SleepRetryTimer } from './retry-timer';

/**
 * Discovery and dispatch, shared by the module and the testing kit: they need CHANGE_STREAM_OPTIONS,
 * an EffectExecutor, a DeadLetterSink and a RetryTimer, and DiscoveryModule imported.
 */
export const handlerProviders: Provider[] = [
  ChangeHandlerMetadataAccessor,
  ChangeHandlerRegistry,
  HandlerInvokerFactory,
  ChangeHandlerExplorer,
  ChangeDispatcher,
];

/**
 * The worker role's providers, spread into ChangeStreamModule's providers (which imports
 * DiscoveryModule and provides CHANGE_STREAM_OPTIONS, CHANGE_STREAM_MONGO_CLIENT, CHANGE_STREAM_KAFKA).
 * With `worker: false` they are created but do no I/O.
 */
export const workerProviders: Provider[] = [
  ...handlerProviders,
  ProcessedEventStore,
  AppliedOffsetStore,
  { provide: EffectExecutor, useClass: MongoEffectExecutor },
  KafkaDeadLetterPublisher,
  { provide: DeadLetterSink, useExisting: KafkaDeadLetterPublisher },
  { provide: RetryTimer, useClass: SleepRetryTimer },
  MarkerRetentionCheck,
  ChangeEventWorker,
  DeadLetterRedriver,
];
