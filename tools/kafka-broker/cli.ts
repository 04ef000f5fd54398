/**
 * Runs a real Apache Kafka cluster in the foreground for manual runs and other tools:
 *
 *   npm run kafka:local -- --brokers 3 --topic orders:4 --topic payments:2
 *
 * Prints the bootstrap list (`host:port,...`) as its first stdout line, then serves until it is
 * killed (SIGINT / SIGTERM stop the JVMs and delete their storage; SIGKILL leaves no JVM either).
 */
import { parseArgs } from 'node:util';
import { KafkaJarsMissingError, startKafka, type KafkaTopic } from './index';

function parseTopic(spec: string): KafkaTopic {
  const match = /^([A-Za-z0-9._-]+):([1-9][0-9]*)$/.exec(spec);
  if (!match) throw new Error(`--topic ${spec}: expected name:partitions, e.g. orders:4`);
  return { name: match[1], partitions: Number(match[2]) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      brokers: { type: 'string', default: '1' },
      topic: { type: 'string', multiple: true, default: [] },
    },
  });
  const brokers = Number(values.brokers);
  if (!Number.isInteger(brokers) || brokers < 1)
    throw new Error(`--brokers ${values.brokers}: expected a whole number >= 1`);
  const kafka = await startKafka({ brokers, topics: values.topic!.map(parseTopic) });
  process.stdout.write(`${kafka.brokers.join(',')}\n`);
  process.stderr.write(`Apache Kafka ${kafka.version}, ${brokers} node(s); Ctrl-C stops it\n`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void kafka.stop().finally(() => process.exit(0)));
  }
}

main().catch((error: Error) => {
  process.stderr.write(
    `kafka:local: ${error instanceof KafkaJarsMissingError ? error.message : error.stack}\n`,
  );
  process.exit(1);
});
