/**
 * Where Apache Kafka's broker jars are: `tools/kafka-broker/lib`, filled by `scripts/setup.sh` from
 * the pinned version in `pom.xml`. Nothing here downloads: a missing folder is a set-up step not run.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The launcher's folder in the source tree (also when this file runs compiled, from `dist/tools/kafka-broker`). */
function sourceDir(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'tools', 'kafka-broker');
    if (existsSync(join(candidate, 'pom.xml'))) return candidate;
  }
  return dirname(__dirname);
}

/** The folder `scripts/setup.sh` resolves the broker's runtime jars into (KAFKA_JARS_DIR overrides it). */
export const KAFKA_LIB_DIR = process.env.KAFKA_JARS_DIR || join(sourceDir(), 'lib');

/** Thrown when the broker's jars were never resolved; its message is the one line to show a user. */
export class KafkaJarsMissingError extends Error {
  constructor(readonly libDir: string) {
    super(`Apache Kafka's broker jars are missing (${libDir}): run \`bash scripts/setup.sh\` once first`);
    this.name = 'KafkaJarsMissingError';
  }
}

/** The resolved broker: its Java classpath and Apache Kafka's version (from the jar's name). */
export interface KafkaJars {
  readonly classpath: string;
  readonly version: string;
}

/** Finds the jars in `libDir`; throws {@link KafkaJarsMissingError} when setup has not put them there. */
export function kafkaJars(libDir = KAFKA_LIB_DIR): KafkaJars {
  const names = existsSync(libDir) ? readdirSync(libDir) : [];
  const broker = names.map((name) => /^kafka_2\.13-(.+)\.jar$/.exec(name)).find(Boolean);
  if (!broker) throw new KafkaJarsMissingError(libDir);
  return { classpath: join(libDir, '*'), version: broker[1] };
}
