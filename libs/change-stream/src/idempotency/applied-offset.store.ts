import { Inject, Injectable } from '@nestjs/common';
import type { ClientSession, Collection, MongoClient } from 'mongodb';
import { CHANGE_STREAM_MONGO_CLIENT, CHANGE_STREAM_OPTIONS } from '../change-stream.constants';
import { DEFAULTS } from '../options/defaults';
import type { WorkerModuleOptions } from '../worker/worker-module-options';
import { NOTHING_APPLIED, type AppliedOffset } from './applied-offset';
import { isDuplicateKeyError } from './processed-event.store';

/** An applied offset as stored: one document per (group, topic, partition). */
export interface AppliedOffsetDocument extends AppliedOffset {
  /** `<groupId>:<topic>:<partition>` (a topic has no `:`). */
  _id: string;
  groupId: string;
  topic: string;
  partition: number;
  updatedAt: Date;
}

/**
 * Thrown by {@link AppliedOffsetStore.advance} when the document is no longer what the worker read:
 * another worker (a zombie that lost the partition, or its new owner) applied something since. The
 * transaction is aborted; the worker reads the document again and skips what is applied.
 */
export class StaleAppliedOffsetError extends Error {
  constructor(readonly key: string) {
    super(`the applied offset of ${key} moved since it was read`);
    this.name = 'StaleAppliedOffsetError';
  }
}

/**
 * The applied-offsets collection (`storage.offsets` in `storage.database`) of `worker.dedupe:
 * 'offsets'`, and a cache of what this worker last read or committed, per partition. Nothing in it
 * expires. Every write is a compare-and-set on `version`, so a stale cache costs a retry, never an
 * effect applied twice. Internal.
 */
@Injectable()
export class AppliedOffsetStore {
  readonly collection: Collection<AppliedOffsetDocument>;
  /** True with `worker.dedupe: 'offsets'`; otherwise the store is never used. */
  readonly enabled: boolean;
  private readonly groupId: string;
  private readonly cache = new Map<string, AppliedOffset>();

  constructor(
    @Inject(CHANGE_STREAM_MONGO_CLIENT) client: MongoClient,
    @Inject(CHANGE_STREAM_OPTIONS) options: WorkerModuleOptions,
  ) {
    this.enabled = options.worker.dedupe === 'offsets';
    this.groupId = options.worker.groupId;
    const name = options.storage.offsets ?? DEFAULTS.storage.offsets;
    // NOTE: majority reads: a cached offset that a failover rolled back would skip messages never applied.
    this.collection = client
      .db(options.storage.database)
      .collection(name, { readConcern: { level: 'majority' }, readPreference: 'primary' });
  }

  keyOf(topic: string, partition: number): string {
    return `${this.groupId}:${topic}:${partition}`;
  }

  /** The applied offset of the partition: cached, or read once (after a start or a rebalance). */
  async current(topic: string, partition: number): Promise<AppliedOffset> {
    const key = this.keyOf(topic, partition);
    const cached = this.cache.get(key);
    if (cached) return cached;
    const found = await this.collection.findOne({ _id: key });
    const state: AppliedOffset = found
      ? { offset: found.offset, partial: found.partial ?? null, version: found.version }
      : NOTHING_APPLIED;
    this.cache.set(key, state);
    return state;
  }

  /**
   * Writes `next` if the document is still `expected` (in `session`'s transaction when given, else
   * on its own with majority write concern). Throws {@link StaleAppliedOffsetError} otherwise. The
   * cache is not touched: call {@link remember} once the transaction committed.
   */
  async advance(
    topic: string,
    partition: number,
    expected: AppliedOffset,
    next: AppliedOffset,
    session?: ClientSession,
  ): Promise<void> {
    const key = this.keyOf(topic, partition);
    const { offset, partial, version } = next;
    try {
      // NOTE: no document yet (version 0): the upsert inserts it, or hits the one another worker inserted (11000).
      await this.collection.updateOne(
        { _id: key, version: expected.version },
        {
          $set: { groupId: this.groupId, topic, partition, offset, partial, version, updatedAt: new Date() },
        },
        session ? { upsert: true, session } : { upsert: true, writeConcern: { w: 'majority' } },
      );
    } catch (error) {
      if (isDuplicateKeyError(error)) throw new StaleAppliedOffsetError(key);
      throw error;
    }
  }

  /** Caches what a committed write left. */
  remember(topic: string, partition: number, state: AppliedOffset): void {
    this.cache.set(this.keyOf(topic, partition), state);
  }

  /** Drops the cache of one partition (after a failed or unknown commit), or of all (after a rebalance). */
  forget(topic?: string, partition?: number): void {
    if (topic === undefined || partition === undefined) this.cache.clear();
    else this.cache.delete(this.keyOf(topic, partition));
  }
}
