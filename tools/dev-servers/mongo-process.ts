/** The MongoDB wire stand-in in a process of its own (its CLI), as a real mongod would be. */
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { spawnChild } from '../launch/child-processes';

const ROOT = resolve(__dirname, '../..');

/** A stand-in process: its URL, pid and a graceful stop. */
export interface MongoProcess {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts `tools/mongo-standin/cli.ts` with `args` (e.g. `--oplog-max-entries 1000`) and resolves once
 * it printed its URL (its first stdout line). Its work then does not share the caller's event loop.
 */
export async function startMongoProcess(args: string[] = []): Promise<MongoProcess> {
  const child = spawnChild(
    process.execPath,
    ['-r', '@swc-node/register', join(ROOT, 'tools/mongo-standin/cli.ts'), ...args],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const url = await new Promise<string>((resolveUrl, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolveUrl);
    child.once('exit', (code) =>
      reject(new Error(`MongoDB stand-in exited (${code}) before printing its URL`)),
    );
  });
  return {
    url,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
