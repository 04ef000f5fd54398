/**
 * The Kafka launcher's entry point: a real Apache Kafka cluster (KRaft nodes as JVM children, on free
 * loopback ports, with fault controls) for the dev servers, the tests and the benchmarks, and where its
 * jars are (`lib/`, filled by `scripts/setup.sh` from `pom.xml`). `cli.ts` runs one in the foreground.
 *
 * @example
 * const kafka = await startKafka({ topics: [{ name: 'orders', partitions: 4 }] });
 * // ... kafka.brokers ...
 * await kafka.stop();
 */
export { startKafka, type KafkaCluster, type KafkaClusterOptions, type KafkaTopic } from './cluster/cluster';
export { KAFKA_LIB_DIR, kafkaJars, KafkaJarsMissingError, type KafkaJars } from './cluster/jars';
