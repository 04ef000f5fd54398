/**
 * `npm run mongo:standin`: prints the connection string first, serves until SIGTERM, names bad options.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { MongoClient } from 'mongodb';
import { parseCommandLine } from '../cli';

const REPO = resolve(__dirname, '../../..');
const CLI = resolve(__dirname, '../cli.ts');

function runCli(args: string[]): ChildProcess {
  return spawn(process.execPath, ['-r', '@swc-node/register', CLI, ...args], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('MongoDB stand-in CLI', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  });

  it('prints the connection string as its first line and serves until SIGTERM', async () => {
    const child = runCli(['--port', '0', '--oplog-max-entries', '50']);
    children.push(child);
    const exited = once(child, 'exit');
    const [url] = await once(createInterface({ input: child.stdout! }), 'line');
    expect(url).toMatch(/^mongodb:\/\/127\.0\.0\.1:\d+\/\?replicaSet=rs0$/);
    const client = await new MongoClient(url, { serverSelectionTimeoutMS: 5_000 }).connect();
    try {
      await expect(client.db('cli').command({ ping: 1 })).resolves.toMatchObject({ ok: 1 });
    } finally {
      await client.close();
    }
    child.kill('SIGTERM');
    expect((await exited)[0]).toBe(0);
  });

  it('parses its options and names a bad one', () => {
    expect(
      parseCommandLine(['--port', '27017', '--oplog-max-bytes', '1000', '--noop-interval-ms', '0']),
    ).toEqual({
      port: 27017,
      oplogMaxBytes: 1000,
      noopIntervalMs: 0,
    });
    expect(parseCommandLine(['-h'])).toBe('help');
    expect(() => parseCommandLine(['--port', 'abc'])).toThrow(
      "--port must be a non-negative integer up to 65535, got 'abc'",
    );
    expect(() => parseCommandLine(['--oplog-max-entries=-1'])).toThrow(
      '--oplog-max-entries must be a non-negative integer',
    );
    expect(() => parseCommandLine(['--frobnicate'])).toThrow(/frobnicate/);
  });
});
