/**
 * Known exceptions: spec tests that apply to a 7.0 replica set but are not expected to pass against
 * the stand-in, each with its reason. They are listed once, in test/spec/EXCEPTIONS.md, as rows of
 * markdown tables `| file | test | reason |`, one table per area under a `## <area>` heading (file
 * names repeat across areas: transactions/count.json, crud/count.json); this module reads them.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { isSpecArea, type SpecArea } from './areas';

/** Where the list lives. */
export const EXCEPTIONS_FILE = path.resolve(__dirname, '..', 'EXCEPTIONS.md');

/** The key of a test within its area: "<file name> › <test description>". */
export const testKey = (file: string, test: string) => `${path.basename(file)} › ${test}`;

/** Reasons by test key, per area. A missing file means no exceptions. */
export function loadKnownExceptions(file = EXCEPTIONS_FILE): Map<SpecArea, Map<string, string>> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return new Map();
  }
  const byArea = new Map<SpecArea, Map<string, string>>();
  let area: SpecArea | undefined;
  for (const line of text.split('\n')) {
    const heading = line.match(/^##\s+(\S+)\s*$/)?.[1];
    if (heading) area = isSpecArea(heading) ? heading : undefined;
    const row = parseRow(line, file);
    if (!row) continue;
    if (!area) throw new Error(`${file}: exception row outside a '## <area>' section: ${line.trim()}`);
    if (!byArea.has(area)) byArea.set(area, new Map());
    byArea.get(area)!.set(testKey(row.file, row.test), row.reason);
  }
  return byArea;
}

/** A data row of a `| file | test | reason |` table, or undefined for other lines. */
function parseRow(line: string, file: string): { file: string; test: string; reason: string } | undefined {
  const cells = line
    .trim()
    .match(/^\|(.*)\|$/)?.[1]
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim().replace(/^`|`$/g, '').replace(/\\\|/g, '|'));
  if (!cells || cells.length !== 3 || /^-+$/.test(cells[0]) || cells[0].toLowerCase() === 'file') return;
  const [specFile, test, reason] = cells;
  if (!specFile.endsWith('.json') || !test || !reason)
    throw new Error(`${file}: malformed exception row: ${line.trim()}`);
  return { file: specFile, test, reason };
}

/** A markdown table row for a test (pipes escaped), as loadKnownExceptions reads it. */
export function exceptionRow(file: string, test: string, reason: string): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();
  return `| ${cell(file)} | ${cell(test)} | ${cell(reason)} |`;
}

/**
 * `text` (EXCEPTIONS.md) with the rows of an area's table replaced by `rows`; the rest is kept. An
 * area without a section gets one at the end.
 */
export function replaceAreaRows(text: string, area: SpecArea, rows: string[]): string {
  const lines = text.split('\n');
  const heading = lines.findIndex((line) => line.trim() === `## ${area}`);
  const header = ['| File | Test | Reason |', '| ---- | ---- | ------ |'];
  if (heading < 0) return [text.trimEnd(), '', `## ${area}`, '', ...header, ...rows, ''].join('\n');
  let first = heading + 1;
  while (first < lines.length && !lines[first].startsWith('## ') && !/^\|\s*file\s*\|/i.test(lines[first]))
    first++;
  if (first >= lines.length || lines[first].startsWith('## ')) {
    lines.splice(heading + 1, 0, '', ...header, ...rows);
    return lines.join('\n');
  }
  let end = first + 2; // NOTE: past the header and its separator row
  while (end < lines.length && lines[end].trim().startsWith('|')) end++;
  lines.splice(first + 2, end - first - 2, ...rows);
  return lines.join('\n');
}
