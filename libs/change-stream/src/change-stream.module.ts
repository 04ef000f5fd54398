import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import {
  CHANGE_STREAM_KAFKA,
  CHANGE_STREAM_MONGO_CLIENT,
  CHANGE_STREAM_OPTIONS,
} from './change-stream.constants';
import { CHANGE_STREAM_MODULE_OPTIONS, ConfigurableModuleClass } from './change-stream.module-definition';
import { resolveOptions } from './options/resolve-options';
import { connectionProviders } from './connections/connection.providers';
import { workerProviders } from './worker/worker.providers';
import { DeadLetterRedriver } from './worker/dead-letter.redriver';
import { ChangeStreamStatus } from './health/relay-status';
import { ChangeStreamRelay } from './relay/change-stream.relay';

/**
 * MongoDB change streams to Kafka, safely on many replicas: one leader per stream relays change
 * events with epoch-fenced checkpoints (the relay role), and workers consume them with
 * exactly-once read-model effects (the worker role). `relay: false` or `worker: false` turns a role off.
 *
 * @example
 * // in AppModule's imports:
 * ChangeStreamModule.forRoot({
 *   mongo: { uri: 'mongodb://db:27017/?replicaSet=rs0' },
 *   kafka: { brokers: ['kafka:9092'] },
 *   redis: { urls: ['redis://r1:6379', 'redis://r2:6379', 'redis://r3:6379'] },
 *   streams: [{ db: 'shop', collection: 'orders', fullDocument: 'updateLookup' }],
 * })
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    { provide: CHANGE_STREAM_OPTIONS, useFactory: resolveOptions, inject: [CHANGE_STREAM_MODULE_OPTIONS] },
    ...connectionProviders,
    ChangeStreamStatus,
    ChangeStreamRelay,
    ...workerProviders,
  ],
  exports: [
    CHANGE_STREAM_OPTIONS,
    CHANGE_STREAM_MONGO_CLIENT,
    CHANGE_STREAM_KAFKA,
    ChangeStreamStatus,
    DeadLetterRedriver,
  ],
})
export class ChangeStreamModule extends ConfigurableModuleClass {}
