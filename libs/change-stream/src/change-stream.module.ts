import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import {
  CHANGE_STREAM_KAFKA,
  CHANGE_STREAM_MONGO_CLIENT,
  CHANGE_STREAM_OPTIONS,
} from './change-stream.constants';
import { CHANGE_STREAM_MODULE_OPTIONS, ConfigurableModuleClass } from './change-stream.module-definition';
import { resolveOptions } from './change-stream.options';
import { connectionProviders } from './connections/connection.providers';
import { consumerProviders } from './consumer/consumer.providers';
import { DeadLetterRedriver } from './consumer/dead-letter.redriver';
import { ChangeStreamStatus } from './health/listener-status';
import { ChangeStreamListener } from './listener/change-stream.listener';

/**
 * MongoDB change streams to Kafka, safely on many replicas: one leader per stream relays change
 * events with epoch-fenced checkpoints (`listener: true`), and workers consume them with
 * exactly-once read-model effects (`consumer: true`).
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
    ChangeStreamListener,
    ...consumerProviders,
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
