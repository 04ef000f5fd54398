/**
 * Jest global setup and teardown: one real Kafka broker for the whole run, shared by every test file
 * through SHARED_KAFKA_ENV (tests use unique topic and group names). Not started when KAFKA_BROKERS
 * names a cluster, nor when setup has not resolved the broker (unit tests still run; a test that
 * needs Kafka then fails with the set-up message).
 */
import { startKafka, type KafkaCluster } from '../../tools/kafka-broker';
import { kafkaJars, KafkaJarsMissingError } from '../../tools/kafka-broker';
import { SHARED_KAFKA_ENV } from './ground';

const RUN_BROKER = Symbol.for('nest-change-stream.test-run-kafka');
type WithBroker = typeof globalThis & { [RUN_BROKER]?: KafkaCluster };

export async function setup(): Promise<void> {
  if (process.env.KAFKA_BROKERS?.trim()) return;
  try {
    kafkaJars();
  } catch (error) {
    if (error instanceof KafkaJarsMissingError) return;
    throw error;
  }
  const cluster = await startKafka();
  (globalThis as WithBroker)[RUN_BROKER] = cluster;
  // Test workers are started after global setup and inherit this process's environment.
  process.env[SHARED_KAFKA_ENV] = cluster.brokers.join(',');
}

export async function teardown(): Promise<void> {
  await (globalThis as WithBroker)[RUN_BROKER]?.stop();
}
