/** Statistics of a sample, and readings of a process's memory and CPU time (Linux /proc). */
import { readdirSync, readFileSync } from 'node:fs';

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

/**
 * CPU time (user + system, µs) of each thread of this process so far, by thread id (Linux
 * /proc/self/task; empty elsewhere). The main thread's id is the process id.
 */
export function threadCpuMicros(): Map<number, number> {
  const ticks = 100; // NOTE: USER_HZ, 100 on Linux
  const threads = new Map<number, number>();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return threads;
  }
  for (const tid of tids) {
    try {
      const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
      threads.set(Number(tid), ((Number(fields[11]) + Number(fields[12])) / ticks) * 1e6);
    } catch {
      // NOTE: the thread ended between the listing and the read.
    }
  }
  return threads;
}

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** `min-max` of `values`, as printed beside a median. */
export const spread = (values: number[], digits = 0): string =>
  `${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)}`;
