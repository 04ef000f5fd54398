/**
 * Child processes of the test tooling (servers, replicas of the example service): none outlives the
 * process that started it, whether that process exits, crashes or is SIGKILLed.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';

/**
 * `setpriv --pdeathsig SIGKILL` makes the kernel kill the child when its parent dies, even by SIGKILL
 * (where no exit hook runs). util-linux ships it on every Debian; elsewhere only the exit hook below
 * protects against orphans.
 */
const SETPRIV = process.platform === 'linux' && spawnSync('setpriv', ['--version']).status === 0;

/** Every child started here that has not exited: killed when this process exits. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function killOnExit(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // kill() is synchronous, so it runs in an 'exit' handler; SIGKILL also ends a SIGSTOPped child.
  process.once('exit', () => live.forEach((child) => child.kill('SIGKILL')));
}

/**
 * `spawn(command, args, options)` for a child that must not outlive this process. Its pid is the
 * command's own (setpriv execs it), so signals reach the command itself.
 */
export function spawnChild(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  const child = SETPRIV
    ? spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', command, ...args], options)
    : spawn(command, [...args], options);
  killOnExit(child);
  return child;
}
