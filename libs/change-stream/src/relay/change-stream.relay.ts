import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { MongoClient } from 'mongodb';
import {
  CHANGE_STREAM_KAFKA,
  CHANGE_STREAM_MONGO_CLIENT,
  CHANGE_STREAM_OPTIONS,
} from '../change-stream.constants';
import { ChangeStreamConnections } from '../connections/change-stream-connections';
import { ChangeStreamStatus } from '../health/relay-status';
import type { ResolvedChangeStreamOptions } from '../interfaces/change-stream-options.interface';
import { LeaseFactory } from '../leader/lease.factory';
import { StreamRelay } from './stream-relay';

/**
 * The relay role: one StreamRelay per configured stream. Starts campaigning on application
 * bootstrap (without waiting to win) and, before shutdown, stops reading, flushes, checkpoints
 * and releases every lease, so a standby takes over at once. Does nothing with `relay: false`.
 */
@Injectable()
export class ChangeStreamRelay implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('ChangeStream');
  private relays: StreamRelay[] = [];

  constructor(
    @Inject(CHANGE_STREAM_OPTIONS) private readonly options: ResolvedChangeStreamOptions,
    @Inject(CHANGE_STREAM_MONGO_CLIENT) private readonly client: MongoClient,
    @Inject(CHANGE_STREAM_KAFKA) private readonly kafka: Kafka,
    private readonly connections: ChangeStreamConnections,
    private readonly status: ChangeStreamStatus,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.options.roles.relay || this.relays.length) return;
    await this.connections.connectMongo();
    const leases = new LeaseFactory(this.options, this.connections, this.client, this.status.instanceId);
    this.relays = this.options.streams.map(
      (stream) =>
        new StreamRelay({
          stream,
          options: this.options,
          client: this.client,
          kafka: this.kafka,
          producerThread: this.connections.producerThread,
          lease: leases.create(stream.name),
          status: this.status,
          logger: this.logger,
        }),
    );
    for (const relay of this.relays) relay.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    const relays = this.relays;
    this.relays = [];
    await Promise.all(relays.map((relay) => relay.stop()));
  }
}
