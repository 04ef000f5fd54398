/**
 * Summaries of V8 CPU profiles (.cpuprofile): self time by function and by area (package, library
 * folder, node internals), per event, over the whole profile or a window of it.
 */
import { resolve, sep } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');
/** Functions and areas listed. */
const TOP = 8;

/** A V8 CPU profile (.cpuprofile, Chrome DevTools format). */
export interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    hitCount?: number;
  }>;
  startTime: number;
  endTime: number;
  samples: number[];
  /** µs between samples (the first from startTime), on the clock of process.hrtime. */
  timeDeltas?: number[];
}

/** A part of a profile's time, µs on the clock of process.hrtime (see {@link hrtimeMicros}). */
export interface ProfileWindow {
  fromUs: number;
  toUs: number;
}

/** Now on the clock of V8's profiles (monotonic), µs. */
export const hrtimeMicros = (): number => Number(process.hrtime.bigint() / 1000n);

/** Where a profile's busy time went. */
export interface ProfileSummary {
  /** Profiled time not idle, ms. */
  busyMs: number;
  totalMs: number;
  events: number;
  functions: Array<{ name: string; ms: number }>;
  areas: Array<{ name: string; ms: number }>;
}

/** Self time by function and by area (package, library, stand-in, node internals) of a profile. */
export function summarise(profile: CpuProfile, events: number, window?: ProfileWindow): ProfileSummary {
  const samples = window ? samplesIn(profile, window) : profile.samples;
  const totalMs = window
    ? (Math.min(window.toUs, profile.endTime) - Math.max(window.fromUs, profile.startTime)) / 1000
    : (profile.endTime - profile.startTime) / 1000;
  const msPerSample = totalMs / Math.max(1, samples.length);
  const hits = new Map<number, number>();
  for (const id of samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  let idle = 0;
  for (const node of profile.nodes) {
    const count = hits.get(node.id) ?? 0;
    if (!count) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += count;
      continue;
    }
    const where = shortUrl(url);
    const name = where ? `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}` : functionName;
    functions.set(name, (functions.get(name) ?? 0) + count);
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + count);
  }
  const top = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, TOP)
      .map(([name, count]) => ({ name, ms: count * msPerSample }));
  return {
    busyMs: (samples.length - idle) * msPerSample,
    totalMs,
    events,
    functions: top(functions),
    areas: top(areas),
  };
}

function shortUrl(url: string): string {
  if (!url) return '';
  const path = url.replace(/^file:\/\//, '');
  const modules = path.lastIndexOf(`node_modules${sep}`);
  if (modules >= 0) return path.slice(modules + 'node_modules'.length + 1);
  return path.startsWith(ROOT) ? path.slice(ROOT.length + 1) : path;
}

function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const path = url.replace(/^file:\/\//, '');
  const modules = path.lastIndexOf(`node_modules${sep}`);
  if (modules >= 0) {
    const parts = path.slice(modules + 'node_modules'.length + 1).split(sep);
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (path.startsWith('node:')) return 'node internals';
  const own = path.startsWith(ROOT) ? path.slice(ROOT.length + 1) : path;
  return own.split(sep).slice(0, 2).join('/');
}

/** A summary as lines of text, per event. */
export function formatSummary(name: string, s: ProfileSummary): string {
  const us = (ms: number) => `${((ms * 1000) / s.events).toFixed(0)} us/event`;
  const pct = (ms: number) => `${((ms / s.busyMs) * 100).toFixed(1)}%`;
  return [
    `CPU profile of the ${name} over the window: ${s.busyMs.toFixed(0)} ms busy of ${s.totalMs.toFixed(0)} ms (${us(s.busyMs)})`,
    `  top self time by function:`,
    ...s.functions.map((f) => `    ${pct(f.ms).padStart(6)}  ${us(f.ms).padStart(14)}  ${f.name}`),
    `  self time by area:`,
    ...s.areas.map((a) => `    ${pct(a.ms).padStart(6)}  ${us(a.ms).padStart(14)}  ${a.name}`),
  ].join('\n');
}

/** The samples taken within `window`. */
function samplesIn(profile: CpuProfile, window: ProfileWindow): number[] {
  const inWindow: number[] = [];
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas?.[i] ?? 0;
    if (at >= window.fromUs && at <= window.toUs) inWindow.push(id);
  });
  return inWindow;
}
