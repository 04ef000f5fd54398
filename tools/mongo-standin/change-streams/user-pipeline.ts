/**
 * The stages after `$changeStream`, evaluated on each event with mingo, and mongod's rule that they
 * must leave the event's `_id` (its resume token) untouched.
 */
import type { Document } from 'bson';
import { Aggregator } from 'mingo/aggregator';
import { MongoServerError } from '../errors/server-error';
import { parseCollation } from '../storage/collation';
import { STANDIN_CONTEXT } from '../storage/mingo-context';
import { idModified } from './change-stream-errors';
import type { ResumeToken } from './resume-token';

/** Applies a stream's pipeline to single events. */
export class UserPipeline {
  private readonly aggregator?: Aggregator;

  /** Throws mongod's errors for an invalid collation (storage/collation.ts), which the stages then use. */
  constructor(pipeline: Document[], collation?: Document) {
    const parsed = parseCollation(collation);
    if (!pipeline.length) return;
    this.aggregator = new Aggregator(pipeline, {
      context: STANDIN_CONTEXT,
      ...(parsed ? { collation: parsed.mingo } : {}),
    });
  }

  /** The event as the pipeline outputs it, or undefined when filtered out; 280 when `_id` was changed. */
  apply(event: Document, token: ResumeToken): Document | undefined {
    if (!this.aggregator) return event;
    let output: Document | undefined;
    try {
      [output] = this.aggregator.run<Document>([cloneDocument(event)]);
    } catch (error) {
      if (error instanceof MongoServerError) throw error;
      throw new MongoServerError(
        2,
        'BadValue',
        `invalid change stream pipeline: ${(error as Error).message}`,
      );
    }
    if (!output) return undefined;
    const id = output._id as Document | undefined;
    if (!id || typeof id !== 'object' || Object.keys(id).length !== 1 || id._data !== token._data)
      throw idModified(token, id);
    // NOTE: mingo's $project emits _id last; mongod keeps it first.
    const { _id, ...rest } = output;
    return { _id, ...rest };
  }
}

/**
 * Copies plain objects and arrays so the pipeline cannot change stored oplog documents; BSON
 * value objects (ObjectId, Timestamp, Binary ...) are shared, they are not mutated.
 */
function cloneDocument<T>(value: T): T {
  if (Array.isArray(value)) return value.map(cloneDocument) as T;
  if (value instanceof Date) return new Date(value.getTime()) as T;
  if (value && typeof value === 'object' && !('_bsontype' in value)) {
    const copy: Document = {};
    for (const [key, item] of Object.entries(value)) copy[key] = cloneDocument(item);
    return copy as T;
  }
  return value;
}
