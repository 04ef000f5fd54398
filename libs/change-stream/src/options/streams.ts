/** The `streams` section: what each change stream watches, how, and which topics its events go to. */
import { Timestamp, type Document } from 'bson';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { CHANGE_OPERATION_TYPES } from '../events/change-event.interface';
import type {
  ResolvedStream,
  StreamOperationType,
  StreamOptions,
} from '../interfaces/change-stream-options.interface';
import {
  isObject,
  name,
  optionalBoolean,
  optionalOneOf,
  optionKeys,
  section,
  stringList,
} from '../utils/option-validators';
import { DEFAULTS } from './defaults';
import { checkedTopic, isExcluded, streamTopicOf } from './routing';
import { databaseName } from './storage';

/** Every key of a stream: the compiler keeps it in step with StreamOptions. */
export const STREAM_OPTION_KEYS = optionKeys<StreamOptions>({
  name: true,
  db: true,
  collection: true,
  collections: true,
  pipeline: true,
  operationTypes: true,
  fullDocument: true,
  fullDocumentBeforeChange: true,
  showExpandedEvents: true,
  splitLargeEvents: true,
  topic: true,
  startAtOperationTime: true,
});
/** What a stream's `operationTypes` may name: the server's types (resnapshot events come from the library only). */
const OPERATION_TYPES = CHANGE_OPERATION_TYPES.filter(
  (t) => t !== 'snapshot' && t !== 'snapshotStart' && t !== 'snapshotEnd',
) as readonly StreamOperationType[];
/** Stages MongoDB allows after `$changeStream`. */
const PIPELINE_STAGES = [
  '$match',
  '$project',
  '$addFields',
  '$set',
  '$unset',
  '$replaceRoot',
  '$replaceWith',
  '$redact',
];
const FULL_DOCUMENT = ['default', 'updateLookup', 'whenAvailable', 'required'] as const;
const FULL_DOCUMENT_BEFORE_CHANGE = ['off', 'whenAvailable', 'required'] as const;
const UNWATCHABLE_DATABASES = ['admin', 'local', 'config'];

function resolvePipeline(value: unknown, path: string): Document[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new InvalidOptionsError(path, 'an array of aggregation stages', value);
  value.forEach((stage, i) => {
    const keys = isObject(stage) ? Object.keys(stage) : [];
    if (keys.length !== 1 || !PIPELINE_STAGES.includes(keys[0])) {
      throw new InvalidOptionsError(
        `${path}[${i}]`,
        `one stage of ${PIPELINE_STAGES.join(', ')}`,
        keys.length === 1 ? keys[0] : stage,
      );
    }
  });
  return value as Document[];
}

function resolveStartTime(value: unknown, path: string): Timestamp | null {
  if (value === undefined) return null;
  if (value instanceof Date && !Number.isNaN(value.getTime()))
    return new Timestamp({ t: Math.floor(value.getTime() / 1000), i: 0 });
  if (value instanceof Timestamp || (isObject(value) && value._bsontype === 'Timestamp'))
    return value as Timestamp;
  throw new InvalidOptionsError(path, 'a BSON Timestamp or a Date', value);
}

function resolveDatabase(value: unknown, path: string): string {
  const db = databaseName(value, path);
  if (UNWATCHABLE_DATABASES.includes(db))
    throw new InvalidOptionsError(path, `a database other than ${UNWATCHABLE_DATABASES.join(', ')}`, db);
  return db;
}

/** The watched collections (null: the whole database), none of them a system or excluded one. */
function resolveCollections(stream: Record<string, unknown>, path: string, db: string, excluded: string[]) {
  if (stream.collection !== undefined && stream.collections !== undefined) {
    throw new InvalidOptionsError(
      path,
      'either "collection" or "collections" (or neither, for the whole database)',
      'both',
    );
  }
  let collections: string[] | null = null;
  if (stream.collection !== undefined)
    collections = [name(stream.collection, `${path}.collection`, 'a collection name')];
  if (stream.collections !== undefined) {
    collections = stringList(
      stream.collections,
      `${path}.collections`,
      'collection names',
      (c) => c.length > 0 && !/[\0$]/.test(c),
    );
  }
  collections?.forEach((coll, i) => {
    const where = stream.collection !== undefined ? `${path}.collection` : `${path}.collections[${i}]`;
    if (coll.startsWith('system.'))
      throw new InvalidOptionsError(where, 'a collection that is not a system collection', coll);
    if (isExcluded(excluded, { db, coll }))
      throw new InvalidOptionsError(
        where,
        'a collection that is not excluded (the library\'s own collections and "excludeNamespaces" are never watched)',
        `${db}.${coll}`,
      );
  });
  return collections;
}

/** The topic rule of a stream and its database topics, every fixed name checked now. */
function resolveTopics(
  topic: StreamOptions['topic'] | unknown,
  path: string,
  topicPrefix: string,
  db: string,
  collections: string[] | null,
): Pick<ResolvedStream, 'topicOf' | 'databaseTopics'> {
  if (topic !== undefined && typeof topic !== 'function') checkedTopic(topic as string, `${path}.topic`);
  const topicOf = streamTopicOf(topic as StreamOptions['topic'], topicPrefix, db, `${path}.topic`);
  collections?.forEach((coll) => checkedTopic(topicOf(coll), `${path}.topic (for ${db}.${coll})`));
  const databaseTopics = collections
    ? [...new Set(collections.map(topicOf))]
    : [
        typeof topic === 'string'
          ? topic
          : checkedTopic(`${topicPrefix}.${db}`, `${path}.db (as a topic name)`),
      ];
  return { topicOf, databaseTopics };
}

function resolveStream(
  value: unknown,
  path: string,
  topicPrefix: string,
  excluded: string[],
): ResolvedStream {
  const stream = section(value, path, true, STREAM_OPTION_KEYS)!;
  const db = resolveDatabase(stream.db, `${path}.db`);
  const collections = resolveCollections(stream, path, db, excluded);
  const operationTypes =
    stream.operationTypes === undefined
      ? null
      : (stringList(
          stream.operationTypes,
          `${path}.operationTypes`,
          `operation types (${OPERATION_TYPES.join(', ')})`,
          (t) => OPERATION_TYPES.includes(t as StreamOperationType),
        ) as StreamOperationType[]);
  const topics = resolveTopics(stream.topic, path, topicPrefix, db, collections);
  const streamName =
    stream.name === undefined ? (collections ? `${db}.${collections.join(',')}` : db) : stream.name;
  if (typeof streamName !== 'string' || streamName.length === 0 || streamName.length > 200) {
    throw new InvalidOptionsError(`${path}.name`, 'a non-empty string of at most 200 characters', streamName);
  }
  const d = DEFAULTS.stream;
  return {
    name: streamName,
    db,
    collections,
    pipeline: resolvePipeline(stream.pipeline, `${path}.pipeline`),
    operationTypes,
    fullDocument: optionalOneOf(stream.fullDocument, `${path}.fullDocument`, FULL_DOCUMENT, d.fullDocument),
    fullDocumentBeforeChange: optionalOneOf(
      stream.fullDocumentBeforeChange,
      `${path}.fullDocumentBeforeChange`,
      FULL_DOCUMENT_BEFORE_CHANGE,
      d.fullDocumentBeforeChange,
    ),
    showExpandedEvents: optionalBoolean(
      stream.showExpandedEvents,
      `${path}.showExpandedEvents`,
      d.showExpandedEvents,
    ),
    splitLargeEvents: optionalBoolean(
      stream.splitLargeEvents,
      `${path}.splitLargeEvents`,
      d.splitLargeEvents,
    ),
    startAtOperationTime: resolveStartTime(stream.startAtOperationTime, `${path}.startAtOperationTime`),
    ...topics,
  };
}

/**
 * The `streams` section: at least one stream when the relay role is on, each with a name no
 * other stream has (the name keys its checkpoint and lease).
 */
export function resolveStreams(
  value: unknown,
  relay: boolean,
  topicPrefix: string,
  excluded: string[],
): ResolvedStream[] {
  if (value !== undefined && !Array.isArray(value))
    throw new InvalidOptionsError('streams', 'an array of streams', value);
  const raw = (value ?? []) as unknown[];
  if (relay && raw.length === 0)
    throw new InvalidOptionsError(
      'streams',
      'at least one stream while the relay role is on (or relay: false)',
      value,
    );
  const streams = raw.map((stream, i) => resolveStream(stream, `streams[${i}]`, topicPrefix, excluded));
  const seen = new Map<string, number>();
  streams.forEach((stream, i) => {
    if (seen.has(stream.name))
      throw new InvalidOptionsError(
        `streams[${i}].name`,
        `a name no other stream has (streams[${seen.get(stream.name)}] is also "${stream.name}")`,
        stream.name,
      );
    seen.set(stream.name, i);
  });
  return streams;
}
