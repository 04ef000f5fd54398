/**
 * scripts/setup.sh on a machine that lacks something: it stops with a message naming what is missing
 * and the command that installs it. Runs a copy of the script in a temporary tree, with a PATH that
 * holds only the tools each case allows (SETUP_NO_APT=1: it never calls apt-get here).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '../..');
/** What the script runs besides java and mvn. */
const BASE_TOOLS = [
  'bash',
  'dirname',
  'sed',
  'awk',
  'head',
  'id',
  'sha256sum',
  'cut',
  'cat',
  'rm',
  'redis-server',
  'npm',
  'node',
];

describe('scripts/setup.sh on an incomplete machine', () => {
  let tree: string;
  let bin: string;

  beforeEach(() => {
    tree = mkdtempSync(join(tmpdir(), 'setup-spec-'));
    mkdirSync(join(tree, 'scripts'));
    mkdirSync(join(tree, 'tools/kafka-broker'), { recursive: true });
    copyFileSync(join(ROOT, 'scripts/setup.sh'), join(tree, 'scripts/setup.sh'));
    copyFileSync(join(ROOT, 'tools/kafka-broker/pom.xml'), join(tree, 'tools/kafka-broker/pom.xml'));
    bin = join(tree, 'bin');
    mkdirSync(bin);
    for (const tool of BASE_TOOLS) link(tool);
  });
  afterEach(() => rmSync(tree, { recursive: true, force: true }));

  const link = (tool: string) => {
    const found = spawnSync('bash', ['-c', `type -P ${tool}`], { encoding: 'utf8' }).stdout.trim();
    if (!found) throw new Error(`${tool} is not installed`);
    symlinkSync(found, join(bin, tool));
  };
  const stub = (tool: string, script: string) => {
    writeFileSync(join(bin, tool), `#!/bin/sh\n${script}\n`);
    chmodSync(join(bin, tool), 0o755);
  };
  const run = () =>
    spawnSync(join(bin, 'bash'), [join(tree, 'scripts/setup.sh')], {
      encoding: 'utf8',
      env: { PATH: bin, HOME: tree, SETUP_NO_APT: '1' },
    });

  it('names the JDK and Maven packages when java and mvn are missing', () => {
    const result = run();
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('missing: Java 17+ (java on PATH: none), Maven (mvn).');
    expect(result.stderr).toContain('apt-get install -y default-jdk-headless maven');
  });

  it('names Java 17 when the java on PATH is older', () => {
    stub('java', `echo 'openjdk version "11.0.21" 2023-10-17' >&2`);
    link('mvn');
    const result = run();
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('missing: Java 17+ (java on PATH: 11).');
    expect(result.stderr).toContain('apt-get install -y default-jdk-headless');
  });

  it('says Maven could not resolve the broker, and how to retry', () => {
    link('java');
    stub('mvn', 'echo "[ERROR] Could not transfer artifact" >&2; exit 1');
    const result = run();
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      'Maven could not resolve the Kafka broker named in tools/kafka-broker/pom.xml',
    );
    expect(result.stderr).toContain('bash scripts/setup.sh');
  });
});
