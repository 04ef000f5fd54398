/**
 * The fidelity gates' shared half: runs one spec area through the CLI (`run-spec.ts <area> --json`)
 * in a child process and returns its results, for test/spec/<area>-spec.int-spec.ts.
 *
 * NOTE: the runner runs in a child process: the mongodb 6.20 driver leaves a 30 s server-selection
 * timer running after every change-stream resume (ChangeStream._resume never clears it without
 * timeoutMS), and after a client that never found a server, which would keep a Jest worker alive.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { SpecArea } from './unified/areas';
import type { SpecTestResult } from './unified-runner';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** What one area's run reports: `N passed, M failed, K skipped` and each test's result. */
export interface AreaReport {
  summary: string;
  results: SpecTestResult[];
}

/** Runs the area against the stand-in (or MONGO_URL); rejects when the runner could not run. */
export async function runSpecArea(area: SpecArea): Promise<AreaReport> {
  const cli = path.join(__dirname, 'run-spec.ts');
  const run = await promisify(execFile)(process.execPath, ['-r', '@swc-node/register', cli, area, '--json'], {
    cwd: REPO_ROOT,
    maxBuffer: 64 * 1024 * 1024,
  }).catch((error: { code?: number; stdout?: string; stderr?: string }) => {
    // Exit code 1 means "some test failed": its report is on stdout; anything else could not run.
    if (error.code === 1 && error.stdout) return { stdout: error.stdout };
    throw new Error(`the spec runner could not run (exit ${error.code}): ${error.stderr || error.stdout}`);
  });
  const report = (JSON.parse(run.stdout) as Record<string, AreaReport>)[area];
  if (!report) throw new Error(`the spec runner reported no '${area}' results`);
  return report;
}

/**
 * The failures of a run, one line each: tests that failed without being a listed exception, listed
 * exceptions that pass now, and listed exceptions that name no applicable test.
 */
export function gateFailures({ results }: AreaReport): string[] {
  return results.filter((r) => r.outcome === 'failed').map((r) => `${r.file} › ${r.test}\n    ${r.detail}`);
}
