/**
 * A runner for the MongoDB drivers' unified test format, for the change-stream, transactions and
 * CRUD spec tests: entities, initialData, runOnRequirements, operations (CRUD, sessions and
 * transactions, change streams, fail points, assertions) with expectResult / expectError /
 * saveResultAsEntity, expectEvents (command monitoring) and outcome. It drives the real `mongodb`
 * driver against any server (the stand-in, or a real one).
 *
 * Known exceptions (test/spec/EXCEPTIONS.md) still run: one that fails is reported as skipped with
 * its reason; one that passes is reported as failed, so that the list stays true.
 *
 * @example
 * const results = await runUnifiedSpecs({ uri, directory: specDirectory('crud'), exceptions });
 * console.log(summarize(results));
 */
import { MongoClient } from 'mongodb';
import { testKey } from './unified/exceptions';
import { unmetRequirements, type ServerProfile } from './unified/requirements';
import { runTest } from './unified/run-test';
import { loadSpecFiles, type SpecFile, type SpecTest } from './unified/spec-file';

export { loadSpecFiles, type SpecFile, type SpecTest };

/** The result of one test. */
export interface SpecTestResult {
  file: string;
  test: string;
  outcome: 'passed' | 'failed' | 'skipped';
  /** Why it failed or was skipped. */
  detail?: string;
  /** How a known exception failed (its outcome is "skipped"). */
  failure?: string;
}

export interface RunUnifiedSpecsOptions {
  /** Connection string of the server under test. */
  uri: string;
  /** Folder of *.json unified test files. */
  directory: string;
  /** Known exceptions of this area by "<file> › <test>" (none when omitted). */
  exceptions?: Map<string, string>;
  /** Runs only the tests for which it returns true (and then does not report stale exceptions). */
  filter?: (file: string, test: string) => boolean;
  /** Per-operation time limit in ms (default 20 000). */
  operationTimeoutMs?: number;
  /** Called after each test. */
  onResult?: (result: SpecTestResult) => void;
}

/** Runs every test of every file in `directory` and returns the results in order. */
export async function runUnifiedSpecs(options: RunUnifiedSpecsOptions): Promise<SpecTestResult[]> {
  const files = loadSpecFiles(options.directory);
  const exceptions = options.exceptions ?? new Map<string, string>();
  const internal = await new MongoClient(options.uri).connect();
  const results: SpecTestResult[] = [];
  const report = (result: SpecTestResult) => {
    results.push(result);
    options.onResult?.(result);
  };
  try {
    const server = await profileServer(internal);
    for (const file of files) {
      for (const test of file.tests) {
        if (options.filter && !options.filter(file.file, test.description)) continue;
        const skip =
          unmetRequirements(file.runOnRequirements, server) ??
          unmetRequirements(test.runOnRequirements, server) ??
          test.skipReason;
        const known = exceptions.get(testKey(file.file, test.description));
        report(
          skip
            ? { file: file.file, test: test.description, outcome: 'skipped', detail: skip }
            : await runOne(file, test, known, { ...options, internal }),
        );
      }
    }
  } finally {
    await internal.close();
  }
  if (!options.filter) staleExceptions(exceptions, results).forEach(report);
  return results;
}

/** "N passed, M failed, K skipped". */
export function summarize(results: SpecTestResult[]): string {
  const count = (outcome: SpecTestResult['outcome']) => results.filter((r) => r.outcome === outcome).length;
  return `${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} skipped`;
}

async function runOne(
  file: SpecFile,
  test: SpecTest,
  knownException: string | undefined,
  options: RunUnifiedSpecsOptions & { internal: MongoClient },
): Promise<SpecTestResult> {
  const base = { file: file.file, test: test.description };
  const operationTimeoutMs = options.operationTimeoutMs ?? 20_000;
  const failure = await runTest(file, test, { ...options, operationTimeoutMs }).then(
    () => undefined,
    (error: Error) => error.message,
  );
  if (knownException === undefined)
    return failure === undefined
      ? { ...base, outcome: 'passed' }
      : { ...base, outcome: 'failed', detail: failure };
  if (failure !== undefined)
    return { ...base, outcome: 'skipped', detail: `known exception: ${knownException}`, failure };
  const detail = `listed in EXCEPTIONS.md (${knownException}) but passes now: remove its row`;
  return { ...base, outcome: 'failed', detail };
}

/** Exceptions that name no test run here (renamed, removed, or not applicable): the list must stay true. */
function staleExceptions(exceptions: Map<string, string>, results: SpecTestResult[]): SpecTestResult[] {
  const ran = new Set(
    results
      .filter((r) => r.outcome !== 'skipped' || r.failure !== undefined)
      .map((r) => testKey(r.file, r.test)),
  );
  return [...exceptions.keys()]
    .filter((key) => !ran.has(key))
    .map((key): SpecTestResult => {
      const [file, ...test] = key.split(' › ');
      const detail = 'listed in EXCEPTIONS.md but no applicable test has this file and description';
      return { file, test: test.join(' › '), outcome: 'failed', detail };
    });
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
