/**
 * Runs the Kafka stand-in in the foreground:
 *
 *   npm run kafka:standin -- --brokers 3 --topic orders:4 --topic x:2
 *
 * Prints the bootstrap list (`host:port,...`) as the first stdout line, then passes stdin to the
 * stand-in, so commands such as `down 2` / `up 2` can be typed (see `--help`). Serves until killed or
 * until stdin closes; from a script without a terminal keep stdin open, e.g. `sleep infinity | npm run ...`.
 */
import { spawn } from 'node:child_process';
import { ensureBuilt } from './build';

function main(): void {
  let binary: string;
  try {
    binary = ensureBuilt();
  } catch (error) {
    process.stderr.write(`kafka stand-in: ${(error as Error).message}\n`);
    process.exit(1);
  }
  // NOTE: stdin is a pipe (not inherited) so the stand-in sees EOF and exits even if this process is SIGKILLed.
  const child = spawn(binary, process.argv.slice(2), { stdio: ['pipe', 'inherit', 'inherit'] });
  child.stdin.on('error', () => undefined);
  process.stdin.pipe(child.stdin);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  child.on('error', (error) => {
    process.stderr.write(`kafka stand-in: cannot run ${binary}: ${error.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code) => process.exit(code ?? 1));
}

main();
