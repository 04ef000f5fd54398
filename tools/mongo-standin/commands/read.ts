/**
 * Reads and cursors: find, aggregate (a first-stage `$changeStream` goes to the change-stream
 * engine), getMore, killCursors, count, distinct.
 */
import { Long, type Document } from 'bson';
import {
  ChangeStreamServerCursor,
  cursorIdOf,
  cursorReply,
  DEFAULT_FIRST_BATCH_SIZE,
  DocumentCursor,
  type Batch,
} from '../services/cursors';
import { ErrorCodes, MongoServerError, serverError } from '../errors/server-error';
import { ErrorLabel, RESUMABLE_CHANGE_STREAM_CODES } from '../errors/labels';
import type { PrimaryState } from '../services/primary';
import { distinctUnder, narrowingFilter } from '../storage/collation';
import { evaluateLet } from '../storage/let-variables';
import { aggregateDocuments, compileFilter, findDocuments, validatePipeline } from '../storage/query';
import { SPLIT_STAGE } from '../change-streams/split-event';
import { keyOf } from '../storage/values';
import { runWriteStage, writeStageOf } from './aggregate-write';
import {
  collectionNameOf,
  collectionResolver,
  optional,
  readableDocuments,
  required,
  type CommandContext,
  type CommandTable,
} from './context';
import { localSessionsSource } from './local-sessions';
import { isOplog, naturalOrder } from './natural-order';

/** The collection the command names in its first field, if it exists. */
const namedCollection = (context: CommandContext) =>
  context.writer.collection(context.db, collectionNameOf(context));

function find(context: CommandContext): Document {
  const { command, db } = context;
  const limit = optional<number>(command, 'limit', 'number');
  const filter = optional<Document>(command, 'filter', 'object');
  const collation = optional<Document>(command, 'collation', 'object');
  const [readable, sort] = naturalOrder(
    isOplog(context)
      ? (context.services.engine.oplogDocuments?.() ?? [])
      : readableDocuments(context, namedCollection(context), narrowingFilter(filter, collation)),
    optional<Document>(command, 'sort', 'object'),
  );
  const documents = findDocuments(readable, {
    filter,
    sort,
    projection: optional(command, 'projection', 'object'),
    skip: optional(command, 'skip', 'number'),
    limit: limit === undefined ? undefined : Math.abs(limit),
    collation,
    resolveCollection: collectionResolver(context),
    variables: evaluateLet(command.let),
  });
  // NOTE: a negative limit is the legacy spelling of singleBatch.
  const singleBatch = optional<boolean>(command, 'singleBatch', 'boolean') === true || (limit ?? 0) < 0;
  return openCursor(
    context,
    new DocumentCursor(`${db}.${collectionNameOf(context)}`, documents),
    optional(command, 'batchSize', 'number'),
    singleBatch,
  );
}

/** Registers a cursor unless its first batch exhausts it, and answers with the first batch. */
function openCursor(
  context: CommandContext,
  cursor: DocumentCursor,
  batchSize: number | undefined,
  singleBatch = false,
): Document {
  const batch =
    batchSize === 0
      ? { documents: [], exhausted: false }
      : cursor.next(batchSize ?? DEFAULT_FIRST_BATCH_SIZE);
  const exhausted = batch.exhausted || singleBatch;
  const id = exhausted ? 0 : context.services.cursors.register(cursor);
  return cursorReply(id, cursor.ns, { ...batch, exhausted }, 'firstBatch');
}

function aggregate(context: CommandContext): Document {
  const { command, db } = context;
  const pipeline = required<Document[]>(command, 'pipeline', 'array');
  const cursorOptions = optional<Document>(command, 'cursor', 'object');
  if (!cursorOptions && !command.explain) {
    throw serverError(
      ErrorCodes.FailedToParse,
      "The 'cursor' option is required, except for aggregate with the explain argument",
    );
  }
  const batchSize = optional<number>(cursorOptions ?? {}, 'batchSize', 'number');
  const target = command.aggregate;
  if (typeof target !== 'string' && target !== 1) {
    throw serverError(
      ErrorCodes.FailedToParse,
      "Invalid aggregate namespace: 'aggregate' must be a collection name or 1",
    );
  }
  if (pipeline[0] && typeof pipeline[0] === 'object' && '$changeStream' in pipeline[0]) {
    return openChangeStream(context, target === 1 ? null : target, pipeline, batchSize);
  }
  // A final $out / $merge writes the results (aggregate-write.ts) and answers an empty cursor.
  const writeStage = writeStageOf(pipeline);
  const localSessions = localSessionsSource(context, writeStage ? pipeline.slice(0, -1) : pipeline);
  const reading = localSessions?.rest ?? (writeStage ? pipeline.slice(0, -1) : pipeline);
  validatePipeline(reading);
  const source =
    localSessions?.sessions ??
    (typeof target === 'string' ? readableDocuments(context, context.writer.collection(db, target)) : []);
  const results = aggregateDocuments(source, reading, {
    collation: optional(command, 'collation', 'object'),
    resolveCollection: collectionResolver(context),
    variables: evaluateLet(command.let),
  });
  const ns = typeof target === 'string' ? `${db}.${target}` : `${db}.$cmd.aggregate`;
  if (writeStage) {
    runWriteStage(context, writeStage, results);
    return cursorReply(0, ns, { documents: [], exhausted: true }, 'firstBatch');
  }
  return openCursor(context, new DocumentCursor(ns, results), batchSize);
}

function openChangeStream(
  context: CommandContext,
  coll: string | null,
  pipeline: Document[],
  batchSize: number | undefined,
): Document {
  const { command, db, services, txn } = context;
  if (txn) {
    throw serverError(
      ErrorCodes.OperationNotSupportedInTransaction,
      'Cannot run aggregate with $changeStream in a multi-document transaction',
    );
  }
  const [{ $changeStream: spec }, ...rest] = pipeline;
  if (!spec || typeof spec !== 'object') {
    throw serverError(ErrorCodes.FailedToParse, 'the $changeStream stage must be an object');
  }
  // NOTE: $changeStreamSplitLargeEvent exists only in change streams; the engine checks it (change-streams/split-event.ts).
  validatePipeline(rest.filter((stage) => !(stage && typeof stage === 'object' && SPLIT_STAGE in stage)));
  const { cursor, firstBatch } = services.engine.open({
    db,
    coll,
    spec,
    pipeline: rest,
    batchSize,
    collation: optional(command, 'collation', 'object'),
  });
  const id = cursor.exhausted ? 0 : services.cursors.register(new ChangeStreamServerCursor(cursor));
  return cursorReply(
    id,
    cursor.ns,
    {
      documents: firstBatch.events,
      exhausted: cursor.exhausted,
      postBatchResumeToken: firstBatch.postBatchResumeToken,
    },
    'firstBatch',
  );
}

async function getMore(context: CommandContext): Promise<Document> {
  const { command, db, services } = context;
  const id = cursorIdOf(command.getMore);
  if (!Number.isFinite(id)) {
    throw serverError(
      ErrorCodes.TypeMismatch,
      "BSON field 'getMore.getMore' is the wrong type, expected type 'long'",
    );
  }
  const collection = required<string>(command, 'collection', 'string');
  const cursor = services.cursors.get(id);
  if (cursor.ns !== `${db}.${collection}`) {
    throw serverError(
      ErrorCodes.Unauthorized,
      `Requested getMore on namespace '${db}.${collection}', but cursor belongs to a different namespace ${cursor.ns}`,
    );
  }
  const batchSize = optional<number>(command, 'batchSize', 'number');
  let batch: Batch;
  try {
    const failCode = services.failPoints.failGetMore();
    if (failCode !== undefined) {
      throw serverError(failCode, "Failing command via 'failGetMoreAfterCursorCheckout' failpoint");
    }
    if (cursor.kind === 'documents') {
      batch = cursor.next(batchSize || undefined);
    } else {
      if (!services.primary.isWritablePrimary) throw replStateChange();
      const { events, postBatchResumeToken } = await interruptible(
        services.primary,
        cursor.stream.getMore(batchSize || undefined, optional(command, 'maxTimeMS', 'number')),
      );
      batch = { documents: events, exhausted: cursor.stream.exhausted, postBatchResumeToken };
    }
  } catch (error) {
    services.cursors.kill(id);
    throw cursor.kind === 'changeStream' ? withResumableLabel(error) : error;
  }
  if (batch.exhausted) services.cursors.kill(id);
  return cursorReply(id, cursor.ns, batch, 'nextBatch');
}

const replStateChange = () =>
  serverError(
    ErrorCodes.InterruptedDueToReplStateChange,
    'operation was interrupted because of a replica set state change',
  );

/** Rejects with InterruptedDueToReplStateChange when the node steps down first. */
function interruptible<T>(primary: PrimaryState, work: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const unsubscribe = primary.onInterrupt(() => reject(replStateChange()));
    work.then(
      (value) => {
        unsubscribe();
        resolve(value);
      },
      (error) => {
        unsubscribe();
        reject(error);
      },
    );
  });
}

/** mongod labels a failed change-stream getMore ResumableChangeStreamError when its code is resumable. */
function withResumableLabel(error: unknown): unknown {
  if (!(error instanceof MongoServerError) || !RESUMABLE_CHANGE_STREAM_CODES.has(error.code)) return error;
  if (error.errorLabels.includes(ErrorLabel.ResumableChangeStreamError)) return error;
  return new MongoServerError(
    error.code,
    error.codeName,
    error.message,
    [...error.errorLabels, ErrorLabel.ResumableChangeStreamError],
    error.extra,
  );
}

function killCursors(context: CommandContext): Document {
  const ids = required<unknown[]>(context.command, 'cursors', 'array').map(cursorIdOf);
  const killed = ids.filter((id) => context.services.cursors.kill(id));
  const notFound = ids.filter((id) => !killed.includes(id));
  return {
    cursorsKilled: killed.map((id) => Long.fromNumber(id)),
    cursorsNotFound: notFound.map((id) => Long.fromNumber(id)),
    cursorsAlive: [],
    cursorsUnknown: [],
    ok: 1,
  };
}

function count(context: CommandContext): Document {
  const { command } = context;
  const query = optional<Document>(command, 'query', 'object');
  const skip = optional<number>(command, 'skip', 'number');
  const limit = Math.abs(optional<number>(command, 'limit', 'number') ?? 0);
  const collation = optional<Document>(command, 'collation', 'object');
  const readable = readableDocuments(context, namedCollection(context), narrowingFilter(query, collation));
  // NOTE: counting everything (estimatedDocumentCount) needs no query engine.
  if (!query && !skip && !limit && !collation) return { n: readable.length, ok: 1 };
  const documents = findDocuments(readable, { filter: query, skip, limit, collation });
  return { n: documents.length, ok: 1 };
}

function distinct(context: CommandContext): Document {
  const { command } = context;
  const key = required<string>(command, 'key', 'string');
  const query = optional<Document>(command, 'query', 'object');
  const collation = optional<Document>(command, 'collation', 'object');
  const matches = compileFilter(query, { collation });
  const values = new Map<string, unknown>();
  for (const doc of readableDocuments(context, namedCollection(context), narrowingFilter(query, collation))) {
    if (!matches(doc)) continue;
    for (const value of distinctValues(doc, key.split('.'))) values.set(keyOf(value), value);
  }
  // Under a collation, values equal by it are one (the first seen), as in mongod.
  return { values: distinctUnder(collation, [...values.values()]), ok: 1 };
}

/** Values of a path for distinct: arrays contribute their elements, absent fields nothing. */
function distinctValues(value: unknown, path: string[]): unknown[] {
  if (!path.length) return Array.isArray(value) ? value : value === undefined ? [] : [value];
  if (Array.isArray(value)) return value.flatMap((element) => distinctValues(element, path));
  if (!value || typeof value !== 'object') return [];
  return distinctValues((value as Document)[path[0]], path.slice(1));
}

export const readCommands: CommandTable = {
  find: { run: find },
  aggregate: { run: aggregate },
  getMore: { run: getMore },
  killCursors: { run: killCursors },
  count: { run: count },
  distinct: { run: distinct },
};
