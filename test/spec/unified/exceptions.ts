/**
 * Known exceptions: spec tests that apply to a 7.0 replica set but are not expected to pass against
 * the stand-in, each with its reason. They are listed once, in test/spec/EXCEPTIONS.md, as rows of a
 * markdown table `| file | test | reason |`; this module reads that table.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/** Where the list lives. */
export const EXCEPTIONS_FILE = path.resolve(__dirname, '..', 'EXCEPTIONS.md');

/** The key of a test: "<file name> › <test description>". */
export const testKey = (file: string, test: string) => `${path.basename(file)} › ${test}`;

/** Reasons by test key. A missing file means no exceptions. */
export function loadKnownExceptions(file = EXCEPTIONS_FILE): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return new Map();
  }
  const exceptions = new Map<string, string>();
  for (const line of text.split('\n')) {
    const cells = line
      .trim()
      .match(/^\|(.*)\|$/)?.[1]
      .split('|')
      .map((cell) => cell.trim().replace(/^`|`$/g, ''));
    if (!cells || cells.length !== 3 || /^-+$/.test(cells[0]) || cells[0].toLowerCase() === 'file') continue;
    const [specFile, test, reason] = cells;
    if (!specFile.endsWith('.json') || !test || !reason)
      throw new Error(`${file}: malformed exception row: ${line.trim()}`);
    exceptions.set(testKey(specFile, test), reason);
  }
  return exceptions;
}
