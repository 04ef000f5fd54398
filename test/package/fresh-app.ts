/**
 * A newcomer's NestJS application outside the workspace, for the package's end-to-end spec: the
 * library built and packed the way it is published, a temporary folder under os.tmpdir() (so
 * nothing resolves through the workspace's node_modules or tsconfig paths), the template in
 * test/package/fresh-app copied in, the tarball and its peers installed by npm.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const TEMPLATE = join(__dirname, 'fresh-app');

/** What a command printed and how it ended (never throws: the spec asserts on it). */
export interface CommandResult {
  code: number;
  output: string;
}

/**
 * This process's environment without what `npm run` / `npx` put there for the workspace (its
 * `local_prefix`, the workspace .npmrc's `loglevel=silent`, ...) and NODE_OPTIONS: a newcomer's shell.
 */
export function outsideEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== 'NODE_OPTIONS'),
  );
}

/** Runs a command asynchronously (the test ground may serve in this process meanwhile). */
export function run(
  command: string,
  args: string[],
  cwd: string,
  timeoutMs = 600_000,
): Promise<CommandResult> {
  return new Promise((done) => {
    execFile(
      command,
      args,
      { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: outsideEnv() },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        done({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

/** Throws with the command's output unless it succeeded. */
export async function runOk(command: string, args: string[], cwd: string): Promise<string> {
  const result = await run(command, args, cwd);
  if (result.code !== 0)
    throw new Error(`${command} ${args.join(' ')} failed (${result.code}):\n${result.output}`);
  return result.output;
}

/** A workspace package's installed version, so npm finds it in the cache. */
export function workspaceVersion(name: string): string {
  return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
}

/** Builds the library (npm run build:lib) and packs it into `dir`. Returns the tarball's path and size. */
export async function packLibrary(dir: string): Promise<{ tarball: string; bytes: number }> {
  await runOk(process.execPath, [join(ROOT, 'scripts/build-lib.js')], ROOT);
  const out = await runOk(
    'npm',
    ['pack', join(ROOT, 'libs/change-stream'), '--pack-destination', dir, '--json'],
    ROOT,
  );
  const [packed] = JSON.parse(out.slice(out.indexOf('['))) as Array<{ filename: string; size: number }>;
  return { tarball: join(dir, packed.filename), bytes: packed.size };
}

/**
 * The peers a NestJS `major` app installs next to the tarball: the workspace's versions (found in
 * the npm cache); for another NestJS major than the workspace's (11), its newest release.
 */
export function peersFor(major: number): string[] {
  const same = (name: string) => `${name}@${workspaceVersion(name)}`;
  const nest = (name: string) => (major === 11 ? same(name) : `${name}@^${major}.0.0`);
  return [
    nest('@nestjs/common'),
    nest('@nestjs/core'),
    nest('@nestjs/testing'),
    same('@nestjs/terminus'),
    same('mongodb'),
    same('bson'),
    same('kafkajs'),
    same('ioredis'),
    same('prom-client'),
    same('reflect-metadata'),
    same('rxjs'),
    same('typescript'),
    same('@types/node'),
  ];
}

/** A fresh app folder outside the workspace with the template, the tarball and the peers installed. */
export async function createFreshApp(tarball: string, major: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), `fresh-nest${major}-`));
  cpSync(TEMPLATE, dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: `fresh-nest${major}-app`, version: '0.0.0', private: true }, null, 2),
  );
  // NOTE: --prefer-offline takes what the workspace's npm cache holds (every peer but an older
  // NestJS major), and asks the registry only for the rest.
  await runOk(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      tarball,
      ...peersFor(major),
    ],
    dir,
  );
  return dir;
}

/** Removes a fresh app's folder. */
export function removeFreshApp(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** The version npm installed in a fresh app. */
export function installedVersion(dir: string, name: string): string {
  return JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')).version;
}
