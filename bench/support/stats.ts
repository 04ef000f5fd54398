/** Statistics of a sample, and readings of a process's memory and CPU time (Linux /proc). */
import { readFileSync } from 'node:fs';

/** Summary statistics of a sample. */
export interface Stats {
  count: number;
  p50: number;
  p99: number;
  median: number;
  max: number;
  min: number;
  mean: number;
}

/** Nearest-rank percentile of sorted values (p in 0..100). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** count, nearest-rank p50 / p99 (median = p50), min, max and mean of `values` (NaN when empty). */
export function stats(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    median: percentile(sorted, 50),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    min: sorted[0] ?? Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
  };
}

/** The resident set size of a process, bytes (VmRSS of /proc/<pid>/status); null when unreadable. */
export function rssOf(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** CPU time (user + system, seconds) of each named process so far; absent ones count 0. */
export function cpuSeconds(pids: Record<string, number | undefined>): Record<string, number> {
  const ticks = 100; // NOTE: USER_HZ, 100 on Linux
  const of = (pid: number | undefined) => {
    if (!pid) return 0;
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(fields[11]) + Number(fields[12])) / ticks;
    } catch {
      return 0;
    }
  };
  return Object.fromEntries(
    Object.entries(pids)
      .filter(([, pid]) => pid !== undefined)
      .map(([name, pid]) => [name, of(pid)]),
  );
}
