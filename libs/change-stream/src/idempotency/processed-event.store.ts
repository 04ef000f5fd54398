import { Inject, Injectable, Logger } from '@nestjs/common';
import { MongoServerError, type ClientSession, type Collection, type MongoClient } from 'mongodb';
import { CHANGE_STREAM_MONGO_CLIENT, CHANGE_STREAM_OPTIONS } from '../change-stream.constants';
import type { WorkerModuleOptions } from '../worker/worker-module-options';

/** One handler's effect for one event: the key of a processed-event marker. */
export interface ProcessedMarker {
  handlerId: string;
  eventId: string;
  /** Where the event was read; recorded for operators, not part of the key. */
  topic: string;
  partition: number;
  offset: string;
}

/**
 * What a marker records. `applied`: the handler's effect took place. `dead-lettered`: the handler gave
 * up and the message went to the dead-letter topic; a later copy is skipped all the same, so an old
 * event is never applied after newer ones (only a re-drive, DeadLetterRedriver, applies it).
 */
export type MarkerOutcome = 'applied' | 'dead-lettered';

/** A marker as stored in the processed-events collection (markers written before `outcome` existed were applied). */
export interface ProcessedMarkerDocument extends ProcessedMarker {
  processedAt: Date;
  outcome?: MarkerOutcome;
}

const UNIQUE_INDEX = 'handler_event_unique';
const TTL_INDEX = 'processed_at_ttl';
const DUPLICATE_KEY = 11000;
const INDEX_OPTIONS_CONFLICT = new Set([85, 86]);

/** True for MongoDB's duplicate-key error (11000). */
export function isDuplicateKeyError(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === DUPLICATE_KEY;
}

/**
 * The processed-events collection (`storage.processed` in `storage.database`): one marker per
 * (handler id, event id), unique, with its {@link MarkerOutcome}, removed by a TTL index after
 * `worker.markerRetentionMs`. Internal.
 */
@Injectable()
export class ProcessedEventStore {
  private readonly logger = new Logger('ChangeStream');
  readonly collection: Collection<ProcessedMarkerDocument>;

  constructor(
    @Inject(CHANGE_STREAM_MONGO_CLIENT) client: MongoClient,
    @Inject(CHANGE_STREAM_OPTIONS) private readonly options: WorkerModuleOptions,
  ) {
    this.collection = client.db(options.storage.database).collection(options.storage.processed);
  }

  /**
   * Creates the unique and TTL indexes, and adjusts the TTL when `markerRetentionMs` changed. With
   * `markerRetentionMs` Infinity there is no TTL index (an existing one is dropped).
   */
  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ handlerId: 1, eventId: 1 }, { name: UNIQUE_INDEX, unique: true });
    if (this.options.worker.markerRetentionMs === Infinity) return this.dropTtlIndex();
    const expireAfterSeconds = Math.ceil(this.options.worker.markerRetentionMs / 1000);
    try {
      await this.collection.createIndex({ processedAt: 1 }, { name: TTL_INDEX, expireAfterSeconds });
    } catch (error) {
      if (!(error instanceof MongoServerError && INDEX_OPTIONS_CONFLICT.has(Number(error.code)))) throw error;
      // NOTE: the index exists with another TTL (retention was changed): collMod updates it in place.
      await this.collection.db.command({
        collMod: this.collection.collectionName,
        index: { name: TTL_INDEX, expireAfterSeconds },
      });
      this.logger.log(`processed-event marker retention set to ${expireAfterSeconds} s`);
    }
  }

  private async dropTtlIndex(): Promise<void> {
    if (!(await this.collection.indexExists(TTL_INDEX))) return;
    await this.collection.dropIndex(TTL_INDEX);
    this.logger.log('processed-event markers are kept forever (markerRetentionMs Infinity)');
  }

  /** Inserts the marker; false when it already exists (the effect was applied before). */
  async insert(marker: ProcessedMarker, session: ClientSession): Promise<boolean> {
    try {
      await this.collection.insertOne(
        { ...marker, processedAt: new Date(), outcome: 'applied' },
        { session },
      );
      return true;
    } catch (error) {
      if (isDuplicateKeyError(error)) return false;
      throw error;
    }
  }

  /** Inserts several markers in order; throws on the first that exists (duplicate key, 11000). */
  async insertMany(markers: readonly ProcessedMarker[], session: ClientSession): Promise<void> {
    const processedAt = new Date();
    await this.collection.insertMany(
      markers.map((marker) => ({ ...marker, processedAt, outcome: 'applied' as const })),
      { session, ordered: true },
    );
  }

  /**
   * Records that the handler gave up on the event (its message is in the dead-letter topic). A marker
   * that already exists is kept: it says the same or more.
   */
  async recordDeadLettered(marker: ProcessedMarker): Promise<void> {
    try {
      await this.collection.insertOne(
        { ...marker, processedAt: new Date(), outcome: 'dead-lettered' },
        { writeConcern: { w: 'majority' } },
      );
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
  }

  /** What the marker of (handler, event) records, or null when there is none. */
  async outcomeOf(handlerId: string, eventId: string): Promise<MarkerOutcome | null> {
    const found = await this.collection.findOne({ handlerId, eventId }, { projection: { outcome: 1 } });
    return found === null ? null : (found.outcome ?? 'applied');
  }

  /** Removes the marker of (handler, event) if it records a dead letter (a re-drive); true when one was removed. */
  async removeDeadLettered(handlerId: string, eventId: string): Promise<boolean> {
    const { deletedCount } = await this.collection.deleteOne(
      { handlerId, eventId, outcome: 'dead-lettered' },
      { writeConcern: { w: 'majority' } },
    );
    return deletedCount === 1;
  }

  /** Whether the marker exists. */
  async exists(marker: ProcessedMarker, session?: ClientSession): Promise<boolean> {
    const found = await this.collection.findOne(
      { handlerId: marker.handlerId, eventId: marker.eventId },
      { session, projection: { _id: 1 } },
    );
    return found !== null;
  }
}
