/**
 * Parses and validates an aggregate whose first stage is `$changeStream`, with mongod's errors.
 */
import type { Document, Timestamp } from 'bson';
import type { OpenChangeStream } from './contract';
import { ErrorCodes, serverError } from '../errors/server-error';
import * as errors from './change-stream-errors';
import { decodeResumeToken, type ResumeToken, type ResumeTokenData } from './resume-token';
import { SPLIT_STAGE, splitResumeWithoutStage } from './split-event';

export type FullDocumentMode = 'default' | 'updateLookup' | 'whenAvailable' | 'required';
export type FullDocumentBeforeChangeMode = 'off' | 'whenAvailable' | 'required';

/** What a stream watches. */
export type StreamScope =
  { kind: 'collection'; db: string; coll: string } | { kind: 'database'; db: string } | { kind: 'cluster' };

/** Where a stream starts. */
export type StreamStart =
  | { kind: 'now' }
  | { kind: 'resumeAfter' | 'startAfter'; token: ResumeToken; decoded: ResumeTokenData }
  | { kind: 'startAtOperationTime'; clusterTime: Timestamp };

/** A validated `$changeStream` request. */
export interface StreamOptions {
  scope: StreamScope;
  start: StreamStart;
  fullDocument: FullDocumentMode;
  fullDocumentBeforeChange: FullDocumentBeforeChangeMode;
  showExpandedEvents: boolean;
  /** Stages after `$changeStream` (without `$changeStreamSplitLargeEvent`). */
  pipeline: Document[];
  /** The pipeline ended with `$changeStreamSplitLargeEvent` (see split-event.ts). */
  splitLargeEvents: boolean;
  collation?: Document;
}

const KNOWN_OPTIONS = new Set([
  'resumeAfter',
  'startAfter',
  'startAtOperationTime',
  'fullDocument',
  'fullDocumentBeforeChange',
  'allChangesForCluster',
  'showExpandedEvents',
  'showSystemEvents',
  'showMigrationEvents',
  'showRawUpdateDescription',
  'allowToRunOnConfigDB',
  'allowToRunOnSystemNS',
]);
const FULL_DOCUMENT_MODES: readonly FullDocumentMode[] = [
  'default',
  'updateLookup',
  'whenAvailable',
  'required',
];
const BEFORE_CHANGE_MODES: readonly FullDocumentBeforeChangeMode[] = ['off', 'whenAvailable', 'required'];
const INTERNAL_DATABASES = new Set(['admin', 'config', 'local']);

/** Stages mongod allows after `$changeStream`. */
const ALLOWED_STAGES = new Set([
  '$match',
  '$project',
  '$addFields',
  '$set',
  '$unset',
  '$replaceRoot',
  '$replaceWith',
  '$redact',
]);
/** Other stages mongod knows (refused in a change stream rather than unrecognised). */
const OTHER_STAGES = new Set([
  '$bucket', '$bucketAuto', '$collStats', '$count', '$currentOp', '$densify',
  '$documents', '$facet', '$fill', '$geoNear', '$graphLookup', '$group', '$indexStats', '$limit',
  '$listLocalSessions', '$listSampledQueries', '$listSearchIndexes', '$listSessions', '$lookup', '$merge', '$out',
  '$planCacheStats', '$sample', '$search', '$searchMeta', '$setWindowFields', '$shardedDataDistribution', '$skip',
  '$sort', '$sortByCount', '$unionWith', '$unwind', '$vectorSearch',
]); // prettier-ignore

/** Validates a request; throws MongoServerError as mongod would. */
export function parseStreamOptions(request: OpenChangeStream): StreamOptions {
  const spec = request.spec ?? {};
  if (typeof spec !== 'object' || Array.isArray(spec)) {
    throw serverError(
      ErrorCodes.TypeMismatch,
      `the $changeStream stage specification must be an object, got ${typeof spec}`,
    );
  }
  for (const field of Object.keys(spec)) if (!KNOWN_OPTIONS.has(field)) throw errors.unknownField(field);
  const pipeline = validatePipeline(request.pipeline ?? []);
  const splitLargeEvents = pipeline.length > 0 && SPLIT_STAGE in pipeline[pipeline.length - 1];
  const start = parseStart(spec);
  if ('decoded' in start && start.decoded.fragmentNum !== undefined && !splitLargeEvents)
    throw splitResumeWithoutStage();
  return {
    scope: parseScope(request, spec.allChangesForCluster === true),
    start,
    fullDocument: parseEnum(spec, 'fullDocument', FULL_DOCUMENT_MODES, 'default'),
    fullDocumentBeforeChange: parseEnum(spec, 'fullDocumentBeforeChange', BEFORE_CHANGE_MODES, 'off'),
    showExpandedEvents: parseBool(spec, 'showExpandedEvents'),
    pipeline: splitLargeEvents ? pipeline.slice(0, -1) : pipeline,
    splitLargeEvents,
    collation: request.collation,
  };
}

function parseScope(request: OpenChangeStream, allChangesForCluster: boolean): StreamScope {
  if (allChangesForCluster) {
    if (request.db !== 'admin' || request.coll !== null) {
      throw errors.invalidNamespace(
        "A $changeStream with 'allChangesForCluster:true' may only be opened on the 'admin' database, and with no collection name",
      );
    }
    return { kind: 'cluster' };
  }
  if (INTERNAL_DATABASES.has(request.db)) {
    throw errors.invalidNamespace(`$changeStream may not be opened on the internal ${request.db} database`);
  }
  if (request.coll === null) return { kind: 'database', db: request.db };
  if (request.coll.startsWith('system.')) {
    throw errors.invalidNamespace(
      `$changeStream may not be opened on the internal ${request.db}.${request.coll} collection`,
    );
  }
  return { kind: 'collection', db: request.db, coll: request.coll };
}

function parseStart(spec: Document): StreamStart {
  const given = (['resumeAfter', 'startAfter', 'startAtOperationTime'] as const).filter(
    (key) => spec[key] !== undefined,
  );
  if (given.length > 1) throw errors.multipleResumeOptions();
  const [kind] = given;
  if (kind === undefined) return { kind: 'now' };
  if (kind === 'startAtOperationTime') {
    const value = spec.startAtOperationTime;
    if (value?._bsontype !== 'Timestamp') throw errors.wrongType(kind, 'timestamp', typeOf(value));
    return { kind, clusterTime: value };
  }
  const decoded = decodeResumeToken(spec[kind]);
  if (kind === 'resumeAfter' && decoded.fromInvalidate) {
    throw errors.invalidResumeToken(
      "Attempting to resume a change stream using 'resumeAfter' is not allowed from an invalidate notification.",
    );
  }
  return { kind, token: { _data: spec[kind]._data }, decoded };
}

function parseEnum<T extends string>(spec: Document, field: string, values: readonly T[], fallback: T): T {
  const value = spec[field];
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw errors.wrongType(field, 'string', typeOf(value));
  if (!values.includes(value as T)) throw errors.badEnum(field, value);
  return value as T;
}

function parseBool(spec: Document, field: string): boolean {
  const value = spec[field];
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw errors.wrongType(field, 'bool', typeOf(value));
  return value;
}

function validatePipeline(pipeline: Document[]): Document[] {
  for (const [index, stage] of pipeline.entries()) {
    const names = stage && typeof stage === 'object' && !Array.isArray(stage) ? Object.keys(stage) : [];
    if (names.length !== 1)
      throw serverError(
        ErrorCodes.Location40323,
        'A pipeline stage specification object must contain exactly one field.',
      );
    const [name] = names;
    if (name === '$changeStream')
      throw serverError(
        ErrorCodes.Location40602,
        '$changeStream is only valid as the first stage in a pipeline.',
      );
    if (ALLOWED_STAGES.has(name)) continue;
    if (name === SPLIT_STAGE) {
      validateSplitStage(stage[name], index === pipeline.length - 1);
      continue;
    }
    if (OTHER_STAGES.has(name))
      throw serverError(ErrorCodes.IllegalOperation, `${name} is not permitted in a $changeStream pipeline`);
    throw serverError(ErrorCodes.Location40324, `Unrecognized pipeline stage name: '${name}'`);
  }
  return pipeline;
}

/** mongod's checks of `$changeStreamSplitLargeEvent`: an empty object spec, last stage. */
function validateSplitStage(spec: unknown, last: boolean): void {
  const empty = !!spec && typeof spec === 'object' && !Array.isArray(spec) && Object.keys(spec).length === 0;
  if (!empty) throw serverError(7182800, `${SPLIT_STAGE} spec should be an empty object`);
  if (!last) throw serverError(7182802, `${SPLIT_STAGE} must be the last stage in the pipeline`);
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  const bsontype = (value as { _bsontype?: string })?._bsontype;
  if (bsontype) return bsontype.toLowerCase();
  return typeof value === 'object' ? 'object' : typeof value;
}
