/**
 * `bench/relay.ts --profile[=<dir>]`: one round of the relay in each delivery mode, in a child process
 * run with `node --cpu-prof` (V8 writes one profile per thread: the main thread and each producer
 * thread), then the top self-time functions of each thread over each mode's rate window.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnChild } from '../../tools/launch/child-processes';
import { formatSummary, summarise, type CpuProfile } from './cpu-profile';
import type { Delivery, Figure } from './relay-runs';
import { since, type Log, type PartResult } from './report';

/** Where the child writes each mode's rate window. */
const WINDOWS = 'windows.json';
/** Sampling interval, µs: fine enough for functions of a few µs per event. */
const INTERVAL_US = 250;

interface Window {
  mode: Delivery;
  events: number;
  fromUs: number;
  toUs: number;
}

/** The profile directory named by `--profile[=<dir>]`, or undefined without the flag. */
export function profileFlag(argv: readonly string[]): string | undefined {
  const flag = argv.find((a) => a === '--profile' || a.startsWith('--profile='));
  if (!flag) return undefined;
  return flag.includes('=') ? flag.split('=')[1] : mkdtempSync(join(tmpdir(), 'relay-profile-'));
}

/** In the child: records the windows of the round's figures for the parent. */
export function saveWindows(dir: string, figures: Record<Delivery, Figure>): void {
  const windows: Window[] = Object.entries(figures).map(([mode, f]) => ({
    mode: mode as Delivery,
    events: f.events,
    ...f.window,
  }));
  writeFileSync(join(dir, WINDOWS), JSON.stringify(windows));
}

/** Runs `script --profile-child=<dir>` under --cpu-prof and summarises each thread's profile per window. */
export async function profileRelay(script: string, dir: string, log: Log): Promise<PartResult> {
  const started = performance.now();
  log(`relay profile: profiles in ${dir}`);
  const child = spawnChild(
    process.execPath,
    [
      '--cpu-prof',
      `--cpu-prof-dir=${dir}`,
      `--cpu-prof-interval=${INTERVAL_US}`,
      ...process.execArgv,
      script,
      `--profile-child=${dir}`,
    ],
    { stdio: 'inherit' },
  );
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`the profiled relay run exited with code ${code}`);
  const windows = JSON.parse(readFileSync(join(dir, WINDOWS), 'utf8')) as Window[];
  const profiles = readdirSync(dir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => ({ name, profile: JSON.parse(readFileSync(join(dir, name), 'utf8')) as CpuProfile }));
  const notes = windows.flatMap((w) =>
    profiles
      .filter(({ profile }) => profile.startTime < w.toUs && profile.endTime > w.fromUs)
      .map(({ name, profile }) =>
        formatSummary(`${threadOf(name)}, relay (${w.mode})`, summarise(profile, w.events, w)),
      ),
  );
  return {
    title: 'Relay CPU profile (one round, both delivery modes)',
    checks: [],
    figures: [],
    conditions: [
      `V8 sampling profiler every ${INTERVAL_US} µs (it inflates CPU figures); windows: each mode's rate window`,
    ],
    notes,
    seconds: since(started),
  };
}

/** V8 names a profile CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; thread 0 is the main thread. */
function threadOf(name: string): string {
  const thread = Number(name.split('.')[4]);
  return thread === 0 ? 'main thread' : `producer thread (${thread})`;
}
