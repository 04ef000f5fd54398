/**
 * Runs the MongoDB stand-in in the foreground:
 *
 *   npm run mongo:standin -- --port 27017 --oplog-max-entries 1000
 *
 * Prints the connection string as the first stdout line and serves until SIGINT / SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startMongoStandin, type MongoStandinOptions } from './index';

const USAGE = `Usage: npm run mongo:standin -- [options]

A MongoDB 7.0 replica-set primary (set "rs0") stand-in for tests, in memory.
Prints the connection string as the first stdout line; serves until killed.

Options:
  --port <n>                 TCP port on 127.0.0.1 (default: a free port)
  --oplog-max-entries <n>    oplog entries retained for change streams (default 100000)
  --oplog-max-bytes <n>      approximate oplog bytes retained (default: unbounded)
  --noop-interval-ms <n>     interval of no-op oplog writes (default 10000; 0 disables)
  -h, --help                 show this help
`;

const NUMERIC_OPTIONS = {
  port: 'port',
  'oplog-max-entries': 'oplogMaxEntries',
  'oplog-max-bytes': 'oplogMaxBytes',
  'noop-interval-ms': 'noopIntervalMs',
} as const;

/** Parses the command line; throws an Error naming the bad option. */
export function parseCommandLine(argv: string[]): MongoStandinOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      ...Object.fromEntries(Object.keys(NUMERIC_OPTIONS).map((name) => [name, { type: 'string' as const }])),
    },
    strict: true,
  });
  if (values.help) return 'help';
  const options: MongoStandinOptions = {};
  for (const [flag, key] of Object.entries(NUMERIC_OPTIONS)) {
    const raw = values[flag as keyof typeof values];
    if (raw === undefined) continue;
    const value = Number(raw);
    if (typeof raw !== 'string' || !/^\d+$/.test(raw) || (key === 'port' && value > 65_535)) {
      throw new Error(
        `--${flag} must be a non-negative integer${key === 'port' ? ' up to 65535' : ''}, got '${String(raw)}'`,
      );
    }
    options[key] = value;
  }
  return options;
}

async function main(): Promise<void> {
  let options: MongoStandinOptions | 'help';
  try {
    options = parseCommandLine(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`mongo stand-in: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const standin = await startMongoStandin(options);
  process.stdout.write(`${standin.url}\n`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void standin.stop().then(() => process.exit(0)));
  }
}

if (require.main === module) {
  main().catch((error: Error) => {
    process.stderr.write(`mongo stand-in: ${error.message}\n`);
    process.exit(1);
  });
}
