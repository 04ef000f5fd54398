/**
 * A runner for the MongoDB drivers' unified test format, sufficient for the change-stream spec
 * tests: entities, initialData, runOnRequirements, operations with expectResult / expectError /
 * saveResultAsEntity, expectEvents (command monitoring) and outcome. It drives the real `mongodb`
 * driver against any server (the stand-in, or a real one).
 *
 * @example
 * const results = await runUnifiedSpecs({ uri, directory: changeStreamSpecDirectory() });
 * console.log(summarize(results));
 */
import { EJSON, type Document } from 'bson';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { MongoClient, MongoServerError } from 'mongodb';
import { EntityMap, type EntityDescription } from './unified/entities';
import { loadKnownExceptions, testKey } from './unified/exceptions';
import { assertMatches, MatchError, type MatchContext } from './unified/matcher';
import { executeOperation, type EnabledFailPoint, type OperationDescription } from './unified/operations';
import { unmetRequirements, type RunOnRequirement, type ServerProfile } from './unified/requirements';

/** The repository root (test/spec -> ..). */
const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** `../shared/spec/change-streams` next to the repository: the published change-stream spec tests. */
export function changeStreamSpecDirectory(): string {
  return path.resolve(REPO_ROOT, '..', 'shared', 'spec', 'change-streams');
}

/** A unified-format test file. */
export interface SpecFile {
  file: string;
  description: string;
  schemaVersion: string;
  runOnRequirements?: RunOnRequirement[];
  createEntities?: EntityDescription[];
  initialData?: {
    collectionName: string;
    databaseName: string;
    documents: Document[];
    createOptions?: Document;
  }[];
  tests: SpecTest[];
}

export interface SpecTest {
  description: string;
  runOnRequirements?: RunOnRequirement[];
  skipReason?: string;
  operations: OperationDescription[];
  expectEvents?: { client: string; events: Document[]; eventType?: string; ignoreExtraEvents?: boolean }[];
  outcome?: { collectionName: string; databaseName: string; documents: Document[] }[];
}

/** The result of one test. */
export interface SpecTestResult {
  file: string;
  test: string;
  outcome: 'passed' | 'failed' | 'skipped';
  /** Why it failed or was skipped. */
  detail?: string;
}

export interface RunUnifiedSpecsOptions {
  /** Connection string of the server under test. */
  uri: string;
  /** Folder of *.json unified test files. */
  directory: string;
  /** Known exceptions by "<file> › <test>" (default: test/spec/EXCEPTIONS.md). */
  exceptions?: Map<string, string>;
  /** Runs only the tests for which it returns true. */
  filter?: (file: string, test: string) => boolean;
  /** Per-operation time limit in ms (default 20 000). */
  operationTimeoutMs?: number;
  /** Called after each test. */
  onResult?: (result: SpecTestResult) => void;
}

const SUPPORTED_SCHEMA_MAJOR = 1;

/** Reads the *.json files of a folder; a clear error when the folder is missing. */
export function loadSpecFiles(directory: string): SpecFile[] {
  if (!existsSync(directory)) {
    throw new Error(
      `Spec test folder not found: ${directory} (expected the unified-format JSON files of the driver specifications there)`,
    );
  }
  const files = readdirSync(directory)
    .filter((name) => name.endsWith('.json'))
    .sort();
  if (!files.length) throw new Error(`No *.json spec test files in ${directory}`);
  return files.map((name) => {
    const spec = EJSON.parse(readFileSync(path.join(directory, name), 'utf8'), { relaxed: true }) as SpecFile;
    const major = Number(String(spec.schemaVersion).split('.')[0]);
    if (major !== SUPPORTED_SCHEMA_MAJOR)
      throw new Error(`${name}: unsupported schemaVersion ${spec.schemaVersion}`);
    return { ...spec, file: name };
  });
}

/** Runs every test of every file in `directory` and returns the results in order. */
export async function runUnifiedSpecs(options: RunUnifiedSpecsOptions): Promise<SpecTestResult[]> {
  const files = loadSpecFiles(options.directory);
  const exceptions = options.exceptions ?? loadKnownExceptions();
  const internal = await new MongoClient(options.uri).connect();
  const results: SpecTestResult[] = [];
  try {
    const server = await profileServer(internal);
    for (const file of files) {
      for (const test of file.tests) {
        if (options.filter && !options.filter(file.file, test.description)) continue;
        const skip =
          unmetRequirements(file.runOnRequirements, server) ??
          unmetRequirements(test.runOnRequirements, server) ??
          test.skipReason ??
          exceptionReason(exceptions, file.file, test.description);
        const result: SpecTestResult = skip
          ? { file: file.file, test: test.description, outcome: 'skipped', detail: skip }
          : await runTest(file, test, { ...options, internal });
        results.push(result);
        options.onResult?.(result);
      }
    }
  } finally {
    await internal.close();
  }
  return results;
}

/** "N passed, M failed, K skipped". */
export function summarize(results: SpecTestResult[]): string {
  const count = (outcome: SpecTestResult['outcome']) => results.filter((r) => r.outcome === outcome).length;
  return `${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} skipped`;
}

function exceptionReason(exceptions: Map<string, string>, file: string, test: string): string | undefined {
  const reason = exceptions.get(testKey(file, test));
  return reason && `known exception: ${reason}`;
}

/** Version and topology as the unified format's runOnRequirements see them. */
async function profileServer(client: MongoClient): Promise<ServerProfile> {
  const admin = client.db('admin');
  const [hello, buildInfo] = await Promise.all([
    admin.command({ hello: 1 }),
    admin.command({ buildInfo: 1 }),
  ]);
  const topology = hello.msg === 'isdbgrid' ? 'sharded' : hello.setName ? 'replicaset' : 'single';
  return { version: String(buildInfo.version), topology, serverless: false, auth: false };
}

async function runTest(
  file: SpecFile,
  test: SpecTest,
  options: RunUnifiedSpecsOptions & { internal: MongoClient },
): Promise<SpecTestResult> {
  const entities = new EntityMap(options.uri);
  const failPoints: EnabledFailPoint[] = [];
  const result = (outcome: SpecTestResult['outcome'], detail?: string): SpecTestResult => ({
    file: file.file,
    test: test.description,
    outcome,
    detail,
  });
  try {
    await loadInitialData(options.internal, file.initialData ?? []);
    await entities.create(file.createEntities ?? []);
    const context: MatchContext = {
      entity: (id) => entities.get(id),
      sessionLsid: (id) => entities.sessionLsid(id),
    };
    for (const [index, operation] of test.operations.entries()) {
      try {
        await runOperation(operation, entities, failPoints, context, options.operationTimeoutMs ?? 20_000);
      } catch (error) {
        throw new Error(
          `operation #${index} ${operation.name} on ${operation.object}: ${(error as Error).message}`,
        );
      }
    }
    for (const expected of test.expectEvents ?? []) assertEvents(expected, entities, context);
    for (const expected of test.outcome ?? []) await assertOutcome(expected, options.internal, context);
    return result('passed');
  } catch (error) {
    return result('failed', (error as Error).message);
  } finally {
    for (const { name } of failPoints.splice(0)) {
      await options.internal
        .db('admin')
        .command({ configureFailPoint: name, mode: 'off' })
        .catch(() => undefined);
    }
    await entities.close();
  }
}

async function loadInitialData(
  client: MongoClient,
  data: NonNullable<SpecFile['initialData']>,
): Promise<void> {
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

async function runOperation(
  operation: OperationDescription,
  entities: EntityMap,
  failPoints: EnabledFailPoint[],
  context: MatchContext,
  timeoutMs: number,
): Promise<void> {
  let outcome: { result?: unknown; error?: unknown };
  try {
    outcome = { result: await withTimeout(executeOperation(operation, { entities, failPoints }), timeoutMs) };
  } catch (error) {
    if (error instanceof TimeoutError) throw error;
    outcome = { error };
  }
  if (operation.ignoreResultAndError) return;
  if (operation.expectError) {
    if (!('error' in outcome))
      throw new MatchError(`expected an error, got result ${describe(outcome.result)}`);
    assertError(operation.expectError, outcome.error, context);
    return;
  }
  if ('error' in outcome) throw outcome.error;
  if (operation.expectResult !== undefined) assertMatches(operation.expectResult, outcome.result, context);
  if (operation.saveResultAsEntity) entities.set(operation.saveResultAsEntity, outcome.result);
}

function assertError(expected: Document, error: unknown, context: MatchContext): void {
  const actual = error as MongoServerError & { hasErrorLabel?(label: string): boolean };
  const isServerError = error instanceof MongoServerError;
  const problems: string[] = [];
  if (expected.isClientError !== undefined && expected.isClientError === isServerError) {
    problems.push(`expected a ${expected.isClientError ? 'client' : 'server'} error`);
  }
  if (
    expected.errorContains !== undefined &&
    !String(actual.message).toLowerCase().includes(String(expected.errorContains).toLowerCase())
  ) {
    problems.push(`expected the message to contain '${expected.errorContains}'`);
  }
  if (expected.errorCode !== undefined && actual.code !== expected.errorCode)
    problems.push(`expected code ${expected.errorCode}`);
  if (expected.errorCodeName !== undefined && actual.codeName !== expected.errorCodeName)
    problems.push(`expected codeName ${expected.errorCodeName}`);
  for (const label of expected.errorLabelsContain ?? [])
    if (!actual.hasErrorLabel?.(label)) problems.push(`expected label ${label}`);
  for (const label of expected.errorLabelsOmit ?? [])
    if (actual.hasErrorLabel?.(label)) problems.push(`expected no label ${label}`);
  if (expected.expectResult !== undefined)
    assertMatches(expected.expectResult, (actual as { result?: unknown }).result, context);
  if (problems.length) {
    const labels = (actual as { errorLabels?: string[] }).errorLabels ?? [];
    throw new MatchError(
      `${problems.join(', ')}; got ${actual?.constructor?.name} code ${actual.code} (${actual.codeName}) labels [${labels}]: ${actual.message}`,
    );
  }
}

function assertEvents(
  expected: NonNullable<SpecTest['expectEvents']>[number],
  entities: EntityMap,
  context: MatchContext,
): void {
  if (expected.eventType && expected.eventType !== 'command')
    throw new Error(`unsupported eventType '${expected.eventType}'`);
  const actual = entities.client(expected.client).events;
  const listing = () => actual.map((e) => `${e.type}:${e.commandName}`).join(', ');
  if (
    actual.length < expected.events.length ||
    (!expected.ignoreExtraEvents && actual.length !== expected.events.length)
  ) {
    throw new MatchError(
      `client ${expected.client}: expected ${expected.events.length} events, got ${actual.length} (${listing()})`,
    );
  }
  expected.events.forEach((event, index) => {
    const [type, fields] = Object.entries(event)[0] as [string, Document];
    const observed = actual[index];
    const where = `client ${expected.client} event #${index}`;
    if (observed.type !== type)
      throw new MatchError(
        `${where}: expected ${type}, got ${observed.type}:${observed.commandName} (${listing()})`,
      );
    if (fields.commandName !== undefined && fields.commandName !== observed.commandName) {
      throw new MatchError(
        `${where}: expected command ${fields.commandName}, got ${observed.commandName} (${listing()})`,
      );
    }
    if (fields.databaseName !== undefined && fields.databaseName !== observed.databaseName) {
      throw new MatchError(
        `${where}: expected database ${fields.databaseName}, got ${observed.databaseName}`,
      );
    }
    try {
      if (fields.command !== undefined) assertMatches(fields.command, observed.command, context);
      if (fields.reply !== undefined) assertMatches(fields.reply, observed.reply, context);
    } catch (error) {
      throw new MatchError(`${where} (${observed.commandName}): ${(error as Error).message}`);
    }
  });
}

async function assertOutcome(
  expected: NonNullable<SpecTest['outcome']>[number],
  client: MongoClient,
  context: MatchContext,
): Promise<void> {
  const documents = await client
    .db(expected.databaseName)
    .collection(expected.collectionName)
    .find({})
    .sort({ _id: 1 })
    .toArray();
  try {
    assertMatches(expected.documents, documents, context, false);
  } catch (error) {
    throw new MatchError(
      `outcome of ${expected.databaseName}.${expected.collectionName}: ${(error as Error).message}`,
    );
  }
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

function describe(value: unknown): string {
  try {
    return EJSON.stringify(value as Document, { relaxed: true });
  } catch {
    return String(value);
  }
}
