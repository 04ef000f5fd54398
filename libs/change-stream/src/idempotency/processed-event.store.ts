import { Inject, Injectable, Logger } from '@nestjs/common';
import { MongoServerError, type ClientSession, type Collection, type MongoClient } from 'mongodb';
import { CHANGE_STREAM_MONGO_CLIENT, CHANGE_STREAM_OPTIONS } from '../change-stream.constants';
import type { ConsumerOptions } from '../consumer/consumer-options';

/** One handler's effect for one event: the key of a processed-event marker. */
export interface ProcessedMarker {
  handlerId: string;
  eventId: string;
  /** Where the event was read; recorded for operators, not part of the key. */
  topic: string;
  partition: number;
  offset: string;
}

/** A marker as stored in the processed-events collection. */
export interface ProcessedMarkerDocument extends ProcessedMarker {
  processedAt: Date;
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
 * (handler id, event id), unique, removed by a TTL index after `worker.markerRetentionMs`. Internal.
 */
@Injectable()
export class ProcessedEventStore {
  private readonly logger = new Logger('ChangeStream');
  readonly collection: Collection<ProcessedMarkerDocument>;

  constructor(
    @Inject(CHANGE_STREAM_MONGO_CLIENT) client: MongoClient,
    @Inject(CHANGE_STREAM_OPTIONS) private readonly options: ConsumerOptions,
  ) {
    this.collection = client.db(options.storage.database).collection(options.storage.processed);
  }

  /** Creates the unique and TTL indexes, and adjusts the TTL when `markerRetentionMs` changed. */
  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ handlerId: 1, eventId: 1 }, { name: UNIQUE_INDEX, unique: true });
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

  /** Inserts the marker; false when it already exists (the effect was applied before). */
  async insert(marker: ProcessedMarker, session: ClientSession): Promise<boolean> {
    try {
      await this.collection.insertOne({ ...marker, processedAt: new Date() }, { session });
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
      markers.map((marker) => ({ ...marker, processedAt })),
      { session, ordered: true },
    );
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
