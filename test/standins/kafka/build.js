'use strict';
/**
 * Builds the Kafka stand-in launcher (launcher.c, linked with librdkafka) into bin/kafka-standin,
 * only when the binary is missing or older than its source. Run as a script (`npm run build:standins`)
 * or require it and call `ensureBuilt()`. Prints nothing on stdout: `npm run kafka:standin` prints the
 * bootstrap list as its first stdout line.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const SOURCE = path.join(__dirname, 'launcher.c');
const BINARY = path.join(__dirname, 'bin', 'kafka-standin');

const LIBRDKAFKA_MISSING =
  'librdkafka (rdkafka_mock.h, -lrdkafka) was not found: install the Debian package librdkafka-dev ' +
  'with `apt-get install -y librdkafka-dev` (Homebrew: `brew install librdkafka`)';
const compilerMissing = (compiler) =>
  `the C compiler ${compiler} was not found: install gcc with \`apt-get install -y gcc\` (or set CC to another C compiler)`;

/** True when the binary is missing or older than launcher.c. */
function isStale() {
  if (!fs.existsSync(BINARY)) return true;
  return fs.statSync(BINARY).mtimeMs < fs.statSync(SOURCE).mtimeMs;
}

/** Compiler and linker flags for librdkafka: pkg-config when it knows the library, else plain -lrdkafka. */
function librdkafkaFlags() {
  const probe = spawnSync('pkg-config', ['--cflags', '--libs', 'rdkafka'], { encoding: 'utf8' });
  if (probe.status === 0 && probe.stdout.trim()) return probe.stdout.trim().split(/\s+/);
  return ['-lrdkafka'];
}

/**
 * Compiles launcher.c when needed and returns the binary's path. Throws an error naming the missing
 * package (librdkafka-dev, gcc) or quoting the compiler output.
 */
function ensureBuilt() {
  if (!isStale()) return BINARY;
  const compiler = process.env.CC || 'gcc';
  fs.mkdirSync(path.dirname(BINARY), { recursive: true });
  // NOTE: compile to a private name then rename, so parallel test workers never run a half-written file.
  const temporary = `${BINARY}.${process.pid}.tmp`;
  const args = ['-O2', '-Wall', '-std=c11', '-D_POSIX_C_SOURCE=200809L', '-o', temporary, SOURCE];
  const result = spawnSync(compiler, [...args, ...librdkafkaFlags()], { encoding: 'utf8' });
  if (result.error) {
    throw new Error(result.error.code === 'ENOENT' ? compilerMissing(compiler) : result.error.message);
  }
  if (result.status !== 0) {
    fs.rmSync(temporary, { force: true });
    const output = `${result.stderr}${result.stdout}`.trim();
    if (/rdkafka(_mock)?\.h|-lrdkafka|rdkafka: No such file/.test(output)) {
      throw new Error(`${LIBRDKAFKA_MISSING}\n${output}`);
    }
    throw new Error(`Building the Kafka stand-in failed (${compiler} ${args.join(' ')}):\n${output}`);
  }
  fs.renameSync(temporary, BINARY);
  return BINARY;
}

module.exports = { ensureBuilt, BINARY };

if (require.main === module) {
  try {
    const stale = isStale();
    ensureBuilt();
    if (stale) process.stderr.write(`built ${path.relative(process.cwd(), BINARY)}\n`);
  } catch (error) {
    process.stderr.write(`kafka stand-in: ${error.message}\n`);
    process.exitCode = 1;
  }
}
