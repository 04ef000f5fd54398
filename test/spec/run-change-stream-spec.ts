/**
 * Runs the published change-stream spec tests (unified format, read from ../shared/spec/change-streams)
 * against the MongoDB stand-in, or against MONGO_URL when set, and prints one line per test and a
 * final line `N passed, M failed, K skipped`. Exits 1 when a test failed, 2 when the run could not start.
 *
 * Usage: npm run spec:change-streams [-- [--json] [<substring of a test description>]]
 *   --json  print only `{ summary, results }` as JSON (for test/spec/change-streams-spec.int-spec.ts)
 */
import { startSpecTarget } from './spec-target';
import { changeStreamSpecDirectory, runUnifiedSpecs, summarize, type SpecTestResult } from './unified-runner';

const LABELS: Record<SpecTestResult['outcome'], string> = { passed: 'PASS', failed: 'FAIL', skipped: 'SKIP' };

function printResult({ outcome, file, test, detail }: SpecTestResult): void {
  const suffix = outcome === 'passed' ? '' : outcome === 'skipped' ? ` (${detail})` : `\n      ${detail}`;
  console.log(`${LABELS[outcome]}  ${file} › ${test}${suffix}`);
}

async function main(args: string[]): Promise<number> {
  const json = args.includes('--json');
  const only = args.find((arg) => arg !== '--json');
  const target = await startSpecTarget();
  try {
    if (!json) console.log(`change-stream spec tests against ${target.kind} (${target.uri})`);
    const results = await runUnifiedSpecs({
      uri: target.uri,
      directory: changeStreamSpecDirectory(),
      filter: only ? (_file, test) => test.includes(only) : undefined,
      onResult: json ? undefined : printResult,
    });
    console.log(json ? JSON.stringify({ summary: summarize(results), results }) : summarize(results));
    return results.some((r) => r.outcome === 'failed') ? 1 : 0;
  } finally {
    await target.stop();
  }
}

main(process.argv.slice(2)).then(
  // NOTE: exit explicitly: the driver leaves a 30 s server-selection timer behind each change-stream resume.
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
