/**
 * The one tracker of the dev tooling's child processes (servers, replicas of the example service,
 * worker fixtures): none outlives the process that started it, whether that process exits, is
 * interrupted, crashes or is SIGKILLed.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';

/**
 * `setpriv --pdeathsig SIGKILL` makes the kernel kill the child when its parent dies, even by SIGKILL
 * (where no exit hook runs). util-linux ships it on every Debian; elsewhere only the exit hook below
 * protects against orphans.
 */
const SETPRIV = process.platform === 'linux' && spawnSync('setpriv', ['--version']).status === 0;

/** Every tracked child that has not exited: killed when this process exits. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Kills `child` with this process: on exit (SIGKILL; kill() is synchronous, so it runs in an 'exit'
 * handler, and SIGKILL also ends a SIGSTOPped child). For a child spawned elsewhere; `spawnChild`
 * tracks its own.
 */
export function track(child: ChildProcess): void {
  if (live.has(child)) return;
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => live.forEach((tracked) => tracked.kill('SIGKILL')));
}

/**
 * `spawn(command, args, options)` for a child that must not outlive this process. Its pid is the
 * command's own (setpriv execs it), so signals reach the command itself.
 */
export function spawnChild(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  const child = SETPRIV
    ? spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', command, ...args], options)
    : spawn(command, [...args], options);
  track(child);
  return child;
}

let signalsInstalled = false;

/**
 * For command-line tools (scripts, benchmarks): SIGINT / SIGTERM exit the process (code 130)
 * instead of killing it, so the exit hook stops every tracked child. `onSignal` runs first.
 */
export function exitOnSignals(onSignal?: (signal: NodeJS.Signals) => void): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      onSignal?.(signal);
      process.exit(130);
    });
  }
}
