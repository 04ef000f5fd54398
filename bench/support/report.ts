/**
 * What a benchmark part hands the report, and how it is printed: checks with their targets, figures,
 * conditions and notes as markdown; the units figures are printed in; a part's main run on its own.
 * Benchmarks print figures and assert nothing.
 */
import { serverKinds } from './servers';

/** What the parts print on their own and the report collects. */
export type Log = (line: string) => void;
export const say: Log = (line) => process.stdout.write(`${line}\n`);

/** One figure of the report, with its target when it has one. */
export interface Check {
  name: string;
  /** The figure as printed (with unit). */
  value: string;
  /** The target as printed, e.g. ">= 20x"; for a reference row, what the figure compares with. */
  target: string;
  /** Undefined for a reference row: a figure printed beside others' published ones, not a target. */
  pass?: boolean;
}

/** The last column of a check's row: PASS, MISS, or blank for a reference row. */
export const verdict = (check: Check): string =>
  check.pass === undefined ? '' : check.pass ? 'PASS' : 'MISS';

/** What a part hands the report: checks, extra figures (name -> printed value), conditions and notes. */
export interface PartResult {
  title: string;
  checks: Check[];
  figures: Array<[string, string]>;
  conditions: string[];
  notes: string[];
  /** Set when the part could not run here (e.g. it must kill a broker it did not start). */
  skipped?: string;
  seconds: number;
}

export const ms = (value: number): string => `${Math.round(value)} ms`;
export const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
export const perSecond = (value: number): string => `${Math.round(value).toLocaleString('en-US')}/s`;

/** Runs a part's main when its module is run directly: prints its figures, exits 0 (1 on error). */
export function runAlone(part: () => Promise<PartResult>): void {
  part()
    .then((result) => {
      say('');
      say(formatPart(result));
      say(`Kafka: ${serverKinds().kafka}`);
      process.exit(0);
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}

/** A part as markdown: its checks in a table, then its other figures, conditions and notes. */
export function formatPart(result: PartResult): string {
  const lines = [`## ${result.title}`, ''];
  if (result.skipped) {
    lines.push(`SKIPPED: ${result.skipped}`, '');
    return lines.join('\n');
  }
  if (result.checks.length) {
    lines.push('| figure | value | target | |', '|---|---|---|---|');
    for (const c of result.checks) lines.push(`| ${c.name} | ${c.value} | ${c.target} | ${verdict(c)} |`);
    lines.push('');
  }
  if (result.figures.length) {
    for (const [name, value] of result.figures) lines.push(`- ${name}: ${value}`);
    lines.push('');
  }
  if (result.conditions.length) lines.push(`Conditions: ${result.conditions.join('; ')}.`, '');
  for (const note of result.notes) lines.push(`${note}`, '');
  lines.push(`(${result.seconds.toFixed(0)} s)`, '');
  return lines.join('\n');
}

/** Seconds since `start` (performance.now()). */
export const since = (start: number): number => (performance.now() - start) / 1000;
