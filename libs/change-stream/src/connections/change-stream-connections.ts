import { Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { Kafka } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { unclonableSetting } from '../options/kafka';
import type { ProducerThreadData } from '../publisher/producer-thread';
import { redactError, redactText, redactUri } from '../utils/redact';
import { kafkaConfig, producerThreadData } from './kafka-config';
import type { ResolvedChangeStreamOptions } from '../interfaces/change-stream-options.interface';

/**
 * The clients the library uses: the user's own (never closed here) or ones it creates from URIs
 * (closed on application shutdown, after every role drained in beforeApplicationShutdown).
 * Creating them does no I/O: the MongoClient and the ioredis clients connect on first use.
 */
export class ChangeStreamConnections implements OnApplicationBootstrap, OnApplicationShutdown {
  /** The one MongoClient shared by relay and worker (a mongoose connection's own client when given one). */
  readonly mongo: MongoClient;
  readonly kafka: Kafka;
  /** The relay's producer-thread settings, or null when its producer runs in this thread (see `kafka.producerThread`). */
  readonly producerThread: ProducerThreadData | null;
  private readonly logger = new Logger('ChangeStream');
  private readonly ownsMongo: boolean;
  private redisClients?: Redis[];
  private ownsRedis = false;
  private mongoConnected?: Promise<MongoClient>;

  constructor(private readonly options: ResolvedChangeStreamOptions) {
    const { mongo, kafka } = options;
    this.ownsMongo = mongo.uri !== undefined;
    this.mongo = mongo.client ?? mongo.connection?.getClient() ?? ownMongoClient(mongo);
    this.kafka = kafka.client ?? new Kafka(kafkaConfig(kafka));
    const threadData = kafka.client || kafka.producerThread === false ? null : producerThreadData(kafka);
    this.producerThread = threadData && !unclonableSetting(threadData) ? threadData : null;
  }

  /** The Redis clients of the Redlock lease (created on first call, from URLs, or the user's). */
  redis(): Redis[] {
    if (this.redisClients) return this.redisClients;
    const redis = this.options.redis;
    if (!redis) throw new Error('No Redis configured (the "redis" option)');
    this.ownsRedis = !redis.clients;
    this.redisClients =
      redis.clients ??
      redis.urls!.map((url) => {
        // NOTE: no command retries across reconnects: a lease operation must fail fast, not wait in a queue.
        const client = new Redis(url, {
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          connectTimeout: this.options.lease.ttlMs,
          ...redis.options,
        });
        const where = redactUri(url);
        client.on('error', (error: Error) =>
          this.logger.debug(`Redis ${where}: ${redactText(error.message)}`),
        );
        return client;
      });
    return this.redisClients;
  }

  /**
   * Connects the MongoClient once (a no-op for a client that is already connected). Every role
   * awaits it before its first operation.
   * NOTE: an explicitly connected client; with the driver's implicit auto-connect, a change stream
   * interrupted by a network error was seen to never resume (its topology stopped monitoring).
   */
  connectMongo(): Promise<MongoClient> {
    this.mongoConnected ??= this.mongo.connect().catch((error: Error) => {
      this.mongoConnected = undefined;
      throw error;
    });
    return this.mongoConnected;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.connectMongo();
  }

  async onApplicationShutdown(): Promise<void> {
    const closing: Promise<unknown>[] = [];
    if (this.ownsMongo) closing.push(this.mongo.close());
    if (this.ownsRedis)
      closing.push(
        ...(this.redisClients ?? []).map((client) => client.quit().catch(() => client.disconnect())),
      );
    const results = await Promise.allSettled(closing);
    for (const result of results) {
      if (result.status === 'rejected')
        this.logger.warn(`Closing a connection failed: ${redactText((result.reason as Error).message)}`);
    }
  }
}

/** A MongoClient from `mongo.uri`; the driver's parse errors quote the URI, so they are redacted first. */
function ownMongoClient(mongo: ResolvedChangeStreamOptions['mongo']): MongoClient {
  try {
    return new MongoClient(mongo.uri!, mongo.clientOptions);
  } catch (error) {
    redactError(error);
    throw error;
  }
}
