/**
 * Change events as MongoDB 7.0 documents them, derived from oplog entries for one stream: which
 * entries a stream sees, which invalidate it, and each event's shape.
 */
import type { Document } from 'bson';
import type { ChangeStreamHost, WriteEvent, WriteOp } from './contract';
import { imageNotFound } from './change-stream-errors';
import type { OplogEntry } from './oplog';
import { encodeResumeToken, type ResumeToken, type StreamPosition } from './resume-token';
import type { StreamOptions, StreamScope } from './stream-options';
import { describeUpdate, type UpdateDescription } from './update-description';

/** An event a stream will see, before it is built. */
export interface Candidate {
  readonly entry: OplogEntry;
  readonly position: StreamPosition;
  /** The invalidate that closes a stream after a drop / rename / dropDatabase. */
  readonly isInvalidate: boolean;
  /** True when this event is followed by an invalidate for this stream. */
  readonly invalidates: boolean;
}

/** DDL events only shown with showExpandedEvents. */
const EXPANDED_ONLY: ReadonlySet<WriteOp> = new Set(['create', 'createIndexes', 'dropIndexes', 'modify']);
const CRUD: ReadonlySet<WriteOp> = new Set(['insert', 'update', 'replace', 'delete']);
const INTERNAL_DATABASES = new Set(['admin', 'config', 'local']);

/** The events (zero, one, or an event and its invalidate) an entry yields for a stream. */
export function candidatesFor(entry: OplogEntry, options: StreamOptions): Candidate[] {
  const { write } = entry;
  if (!inScope(write, options.scope)) return [];
  const invalidates = invalidatesScope(write, options.scope);
  const shown =
    (!EXPANDED_ONLY.has(write.op) || options.showExpandedEvents) &&
    !(write.op === 'dropDatabase' && options.scope.kind === 'collection');
  const candidates: Candidate[] = [];
  if (shown) candidates.push({ entry, position: entry.position, isInvalidate: false, invalidates });
  if (invalidates) {
    const position = { ...entry.position, fromInvalidate: true };
    candidates.push({ entry, position, isInvalidate: true, invalidates: true });
  }
  return candidates;
}

function inScope(write: WriteEvent, scope: StreamScope): boolean {
  const systemCollection = write.coll?.startsWith('system.') ?? false;
  switch (scope.kind) {
    case 'cluster':
      return !INTERNAL_DATABASES.has(write.db) && !systemCollection;
    case 'database':
      return write.db === scope.db && !systemCollection;
    case 'collection':
      return (
        write.db === scope.db &&
        (write.coll === scope.coll ||
          write.op === 'dropDatabase' ||
          (write.op === 'rename' && isTarget(write, scope)))
      );
  }
}

function invalidatesScope(write: WriteEvent, scope: StreamScope): boolean {
  if (scope.kind === 'collection')
    return write.op === 'drop' || write.op === 'rename' || write.op === 'dropDatabase';
  return scope.kind === 'database' && write.op === 'dropDatabase';
}

const isTarget = (write: WriteEvent, scope: { db: string; coll: string }) =>
  write.to?.db === scope.db && write.to?.coll === scope.coll;

/** The resume token of a candidate (memoised on the entry: every stream sees the same token). */
export function tokenOf(candidate: Candidate): ResumeToken {
  const key = candidate.isInvalidate ? 'invalidateToken' : 'token';
  return memo(candidate.entry, key, () => {
    const { entry } = candidate;
    return encodeResumeToken({
      ...candidate.position,
      uuid: entry.collectionUUID,
      eventIdentifier: eventIdentifier(entry.write),
    });
  });
}

/** mongod's v2 event identifier: operation type plus document key (CRUD) or operation description (DDL). */
function eventIdentifier(write: WriteEvent): Document {
  if (CRUD.has(write.op)) return { operationType: write.op, documentKey: documentKeyOf(write) };
  const description = operationDescriptionOf(write);
  return description
    ? { operationType: write.op, operationDescription: description }
    : { operationType: write.op };
}

/** Builds the event document a stream delivers (before the stages after `$changeStream`). */
export function buildEvent(candidate: Candidate, options: StreamOptions, host: ChangeStreamHost): Document {
  const { entry } = candidate;
  const { write } = entry;
  const event: Document = {
    _id: tokenOf(candidate),
    operationType: candidate.isInvalidate ? 'invalidate' : write.op,
    clusterTime: entry.position.clusterTime,
    wallTime: entry.wallTime,
  };
  if (candidate.isInvalidate) return event;
  if (options.showExpandedEvents && entry.collectionUUID && write.op !== 'dropDatabase')
    event.collectionUUID = entry.collectionUUID;
  if (write.lsid) {
    event.txnNumber = write.txnNumber;
    event.lsid = write.lsid;
  }
  const ns = write.coll === undefined ? { db: write.db } : { db: write.db, coll: write.coll };
  switch (write.op) {
    case 'insert':
      Object.assign(event, { fullDocument: write.after, ns, documentKey: documentKeyOf(write) });
      break;
    case 'replace':
      Object.assign(event, { fullDocument: write.after, ns, documentKey: documentKeyOf(write) });
      addBeforeChange(event, entry, options);
      break;
    case 'update':
      Object.assign(event, {
        ns,
        documentKey: documentKeyOf(write),
        updateDescription: updateDescriptionOf(entry, options),
      });
      addFullDocument(event, entry, options, host);
      addBeforeChange(event, entry, options);
      break;
    case 'delete':
      Object.assign(event, { ns, documentKey: documentKeyOf(write) });
      addBeforeChange(event, entry, options);
      break;
    case 'rename':
      Object.assign(event, { ns, to: write.to });
      if (options.showExpandedEvents) event.operationDescription = operationDescriptionOf(write);
      break;
    case 'drop':
    case 'dropDatabase':
      event.ns = ns;
      break;
    default:
      Object.assign(event, { ns, operationDescription: operationDescriptionOf(write) ?? {} });
  }
  return event;
}

function addFullDocument(
  event: Document,
  entry: OplogEntry,
  options: StreamOptions,
  host: ChangeStreamHost,
): void {
  const { write } = entry;
  switch (options.fullDocument) {
    case 'default':
      return;
    case 'updateLookup':
      event.fullDocument =
        write.coll === undefined ? null : host.findByKey(write.db, write.coll, documentKeyOf(write));
      return;
    case 'whenAvailable':
      event.fullDocument = entry.postImage ?? null;
      return;
    case 'required':
      if (!entry.postImage) throw imageNotFound('post-image', 'update', describeForError(event));
      event.fullDocument = entry.postImage;
  }
}

function addBeforeChange(event: Document, entry: OplogEntry, options: StreamOptions): void {
  if (options.fullDocumentBeforeChange === 'off') return;
  if (options.fullDocumentBeforeChange === 'required' && !entry.preImage) {
    throw imageNotFound('pre-image', 'update, delete and replace', describeForError(event));
  }
  event.fullDocumentBeforeChange = entry.preImage ?? null;
}

function updateDescriptionOf(entry: OplogEntry, options: StreamOptions): Document {
  const { write } = entry;
  const full = memo<UpdateDescription>(entry, 'updateDescription', () =>
    describeUpdate(write.before ?? {}, write.after ?? {}, write.update),
  );
  const { disambiguatedPaths, ...rest } = full;
  return options.showExpandedEvents ? { ...rest, disambiguatedPaths } : rest;
}

function documentKeyOf(write: WriteEvent): Document {
  return write.documentKey ?? { _id: (write.after ?? write.before)?._id };
}

function operationDescriptionOf(write: WriteEvent): Document | undefined {
  if (write.op !== 'rename' || write.operationDescription) return write.operationDescription;
  return write.to ? { to: write.to } : undefined;
}

function describeForError(event: Document): string {
  const { _id, clusterTime, ns, documentKey, operationType } = event;
  return JSON.stringify({ _id, operationType, clusterTime: clusterTime?.toString(), ns, documentKey });
}

function memo<T>(entry: OplogEntry, key: string, compute: () => T): T {
  let value = entry.memo.get(key) as T | undefined;
  if (value === undefined) {
    value = compute();
    entry.memo.set(key, value);
  }
  return value;
}
