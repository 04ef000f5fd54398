/**
 * Runs the published driver spec tests (unified format, read from ../shared/spec/<area>) of the
 * change-streams, transactions and crud areas against the MongoDB stand-in, or against MONGO_URL
 * when set. Prints each failure and known exception, then one line per area:
 * `<area>: N passed, M failed, K skipped`. Exits 1 when a test failed, 2 when the run could not start.
 *
 * Usage: npm run spec:mongo -- [<area>...] [--filter <substring>] [--verbose] [--json] [--print-exceptions]
 *   <area>              change-streams, transactions or crud (default: all three)
 *   --filter <text>     only tests whose description contains <text> (a bare non-area word works too)
 *   --verbose           also print passing and not-applicable tests
 *   --json              print only `{ "<area>": { summary, results } }` (for the *-spec.int-spec.ts gates)
 *   --print-exceptions  ignore EXCEPTIONS.md and print its tables for the current failures
 *                       (a listed test keeps its reason; a new one gets "TODO: <failure>")
 *   --write-exceptions  the same, written into EXCEPTIONS.md (the areas run; no --filter)
 */
import { startSpecTarget } from './spec-target';
import { SPEC_AREAS, isSpecArea, specDirectory, type SpecArea } from './unified/areas';
import { readFileSync, writeFileSync } from 'node:fs';
import {
  EXCEPTIONS_FILE,
  exceptionRow,
  loadKnownExceptions,
  replaceAreaRows,
  testKey,
} from './unified/exceptions';
import { runUnifiedSpecs, summarize, type SpecTestResult } from './unified-runner';

interface Options {
  areas: SpecArea[];
  filter?: string;
  verbose: boolean;
  json: boolean;
  printExceptions: boolean;
  writeExceptions: boolean;
}

function parseArgs(args: string[]): Options {
  const options: Options = {
    areas: [],
    verbose: false,
    json: false,
    printExceptions: false,
    writeExceptions: false,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--json') options.json = true;
    else if (arg === '--verbose') options.verbose = true;
    else if (arg === '--print-exceptions') options.printExceptions = true;
    else if (arg === '--write-exceptions') options.writeExceptions = options.printExceptions = true;
    else if (arg === '--filter') options.filter = args[++i];
    else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}`);
    else if (isSpecArea(arg)) options.areas.push(arg);
    else options.filter = arg;
  }
  if (!options.areas.length) options.areas = [...SPEC_AREAS];
  // NOTE: a filtered run would drop the rows of the tests it did not run.
  if (options.writeExceptions && options.filter)
    throw new Error('--write-exceptions runs whole areas: no filter');
  return options;
}

const LABELS: Record<SpecTestResult['outcome'], string> = { passed: 'PASS', failed: 'FAIL', skipped: 'SKIP' };

function printResult(
  area: SpecArea,
  { outcome, file, test, detail }: SpecTestResult,
  verbose: boolean,
): void {
  const known = detail?.startsWith('known exception');
  if (!verbose && outcome !== 'failed' && !known) return;
  const suffix = outcome === 'passed' ? '' : outcome === 'skipped' ? ` (${detail})` : `\n      ${detail}`;
  console.log(`${LABELS[outcome]}  ${area}/${file} › ${test}${suffix}`);
}

/** EXCEPTIONS.md rows for the failures of a run without exceptions (listed tests keep their reason). */
function exceptionRows(results: SpecTestResult[], listed: Map<string, string>): string[] {
  return results
    .filter((r) => r.outcome === 'failed')
    .map((r) => {
      const reason = listed.get(testKey(r.file, r.test)) ?? `TODO: ${r.detail?.split('\n')[0].slice(0, 200)}`;
      return exceptionRow(r.file, r.test, reason);
    });
}

function printExceptionSection(area: SpecArea, rows: string[]): void {
  console.log(
    ['', `## ${area}`, '', '| File | Test | Reason |', '| ---- | ---- | ------ |', ...rows].join('\n'),
  );
}

async function main(args: string[]): Promise<number> {
  const options = parseArgs(args);
  const exceptions = loadKnownExceptions();
  const filter = options.filter;
  const target = await startSpecTarget();
  const output: Record<string, { summary: string; results: SpecTestResult[] }> = {};
  const summaries: string[] = [];
  const rowsByArea = new Map<SpecArea, string[]>();
  let failed = false;
  try {
    if (!options.json) console.log(`driver spec tests against ${target.kind} (${target.uri})`);
    for (const area of options.areas) {
      const listed = exceptions.get(area) ?? new Map<string, string>();
      const results = await runUnifiedSpecs({
        uri: target.uri,
        directory: specDirectory(area),
        exceptions: options.printExceptions ? undefined : listed,
        filter: filter ? (_file, test) => test.includes(filter) : undefined,
        onResult: options.json ? undefined : (result) => printResult(area, result, options.verbose),
      });
      failed ||= results.some((r) => r.outcome === 'failed');
      output[area] = { summary: summarize(results), results };
      summaries.push(`${area}: ${summarize(results)}`);
      if (options.printExceptions) {
        rowsByArea.set(area, exceptionRows(results, listed));
        printExceptionSection(area, rowsByArea.get(area)!);
      }
    }
  } finally {
    await target.stop();
  }
  if (options.writeExceptions) writeExceptions(rowsByArea);
  console.log(options.json ? JSON.stringify(output) : summaries.join('\n'));
  return failed ? 1 : 0;
}

function writeExceptions(rowsByArea: Map<SpecArea, string[]>): void {
  let text = readFileSync(EXCEPTIONS_FILE, 'utf8');
  for (const [area, rows] of rowsByArea) text = replaceAreaRows(text, area, rows);
  writeFileSync(EXCEPTIONS_FILE, text);
  console.log(`\nwrote ${EXCEPTIONS_FILE}`);
}

main(process.argv.slice(2)).then(
  // NOTE: exit explicitly: the driver leaves a 30 s server-selection timer behind each change-stream resume.
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
