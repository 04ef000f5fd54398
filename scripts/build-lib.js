#!/usr/bin/env node
/**
 * `npm run build:lib`: compiles the library package (libs/change-stream) into its dist/ folder —
 * CommonJS JavaScript, .d.ts files and source maps (sources inlined, since src/ is not shipped) —
 * from a clean folder, so no file of a removed source outlives it in the tarball.
 */
const { execFileSync } = require('node:child_process');
const { existsSync, rmSync } = require('node:fs');
const { join } = require('node:path');

const ROOT = join(__dirname, '..');
const PACKAGE = join(ROOT, 'libs/change-stream');

rmSync(join(PACKAGE, 'dist'), { recursive: true, force: true });
execFileSync(
  process.execPath,
  [require.resolve('typescript/bin/tsc'), '-p', join(PACKAGE, 'tsconfig.lib.json')],
  {
    cwd: ROOT,
    stdio: 'inherit',
  },
);

// NOTE: files loaded by path at run time rather than by require (the producer thread's worker is
// started with `new Worker(join(__dirname, ...))`) are checked here: nothing else would notice one missing.
const loadedByPath = [
  'dist/publisher/producer-thread.worker.js',
  'dist/index.d.ts',
  'dist/testing/index.d.ts',
];
const missing = loadedByPath.filter((file) => !existsSync(join(PACKAGE, file)));
if (missing.length) {
  process.stderr.write(`build:lib: missing from the package: ${missing.join(', ')}\n`);
  process.exit(1);
}
