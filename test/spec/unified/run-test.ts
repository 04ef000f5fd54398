/**
 * Runs one unified-format test: initialData, entities, operations (with expectResult / expectError /
 * saveResultAsEntity), then expectEvents and outcome; cleans up fail points, sessions and clients.
 */
import { MongoServerError, type MongoClient } from 'mongodb';
import { EntityMap } from './entities';
import { assertError, assertEvents, assertOutcome, describe } from './expectations';
import { assertMatches, assertMatchesIterable, MatchError, type MatchContext } from './matcher';
import {
  AssertionFailure,
  executeOperation,
  UnsupportedOperationError,
  type EnabledFailPoint,
  type OperationContext,
  type OperationDescription,
} from './operations';
import type { SpecFile, SpecTest } from './spec-file';

export interface RunTestOptions {
  uri: string;
  /** The runner's own client (initialData, outcome, assertions, killAllSessions). */
  internal: MongoClient;
  /** Per-operation time limit in ms. */
  operationTimeoutMs: number;
}

/** Resolves when the test passed; rejects with why it failed. */
export async function runTest(file: SpecFile, test: SpecTest, options: RunTestOptions): Promise<void> {
  const entities = new EntityMap(options.uri);
  const failPoints: EnabledFailPoint[] = [];
  const match: MatchContext = {
    entity: (id) => entities.get(id),
    sessionLsid: (id) => entities.sessionLsid(id),
  };
  const context: OperationContext = {
    entities,
    failPoints,
    internal: options.internal,
    runNested: (operation) => runOperation(operation, context, match, options.operationTimeoutMs, true),
  };
  try {
    await killAllSessions(options.internal);
    await loadInitialData(options.internal, file.initialData ?? []);
    await entities.create(file.createEntities ?? []);
    for (const [index, operation] of test.operations.entries()) {
      try {
        await runOperation(operation, context, match, options.operationTimeoutMs, false);
      } catch (error) {
        throw new Error(
          `operation #${index} ${operation.name} on ${operation.object}: ${(error as Error).message}`,
        );
      }
    }
    for (const expected of test.expectEvents ?? []) assertEvents(expected, entities, match);
    for (const expected of test.outcome ?? []) await assertOutcome(expected, options.internal, match);
  } finally {
    await disableFailPoints(failPoints);
    await entities.close();
  }
}

/** Ends the server sessions (and their open transactions) left behind by earlier tests. */
async function killAllSessions(client: MongoClient): Promise<void> {
  await client
    .db('admin')
    .command({ killAllSessions: [] })
    .catch((error) => {
      // NOTE: as the format allows: Unauthorized, CommandNotFound and Interrupted are ignored.
      if (!(error instanceof MongoServerError && [13, 59, 11601].includes(error.code as number))) throw error;
    });
}

async function disableFailPoints(failPoints: EnabledFailPoint[]): Promise<void> {
  for (const { client, name, ownsClient } of failPoints.splice(0)) {
    await client
      .db('admin')
      .command({ configureFailPoint: name, mode: 'off' })
      .catch(() => undefined);
    if (ownsClient) await client.close().catch(() => undefined);
  }
}

async function loadInitialData(client: MongoClient, data: NonNullable<SpecFile['initialData']>) {
  for (const { collectionName, databaseName, documents, createOptions } of data) {
    const db = client.db(databaseName);
    await db.dropCollection(collectionName, { writeConcern: { w: 'majority' } }).catch((error) => {
      if (!(error instanceof MongoServerError && error.code === 26)) throw error;
    });
    await db.createCollection(collectionName, { ...createOptions, writeConcern: { w: 'majority' } });
    if (documents.length)
      await db.collection(collectionName).insertMany(documents, { writeConcern: { w: 'majority' } });
  }
}

/** Errors of the runner itself, never the "error" an operation is expected to raise. */
function isRunnerError(error: unknown): boolean {
  return [TimeoutError, MatchError, AssertionFailure, UnsupportedOperationError].some(
    (t) => error instanceof t,
  );
}

/**
 * Runs an operation and checks its expectations. `rethrow` (withTransaction callbacks): after an
 * expected error matched, throw it on so that the driver's withTransaction sees it.
 */
async function runOperation(
  operation: OperationDescription,
  context: OperationContext,
  match: MatchContext,
  timeoutMs: number,
  rethrow: boolean,
): Promise<void> {
  let outcome: { result?: unknown; error?: unknown };
  try {
    outcome = { result: await withTimeout(executeOperation(operation, context), timeoutMs) };
  } catch (error) {
    if (isRunnerError(error)) throw error;
    outcome = { error };
  }
  if ('error' in outcome && (operation.ignoreResultAndError || operation.expectError)) {
    if (operation.expectError) assertError(operation.expectError, outcome.error, match);
    if (rethrow) throw outcome.error;
    return;
  }
  if (operation.ignoreResultAndError) return;
  if (operation.expectError)
    throw new MatchError(`expected an error, got result ${describe(outcome.result)}`);
  if ('error' in outcome) throw outcome.error;
  if (operation.expectResult !== undefined) assertResult(operation, outcome.result, match);
  if (operation.saveResultAsEntity) context.entities.set(operation.saveResultAsEntity, outcome.result);
}

/** Operations whose result is the documents of a cursor (root-level documents, as the format says). */
const ITERABLE_RESULTS = new Set(['find', 'aggregate', 'listCollections', 'listIndexes', 'listDatabases']);

function assertResult(operation: OperationDescription, actual: unknown, match: MatchContext): void {
  const expected = operation.expectResult;
  if (ITERABLE_RESULTS.has(operation.name) && Array.isArray(expected))
    assertMatchesIterable(expected, actual, match);
  else assertMatches(expected, actual, match);
}

class TimeoutError extends Error {
  override name = 'TimeoutError';
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  promise.catch(() => undefined); // NOTE: a late rejection after the timeout is not unhandled.
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`no result within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
