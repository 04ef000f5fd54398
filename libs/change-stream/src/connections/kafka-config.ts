import type { KafkaConfig } from 'kafkajs';
import type { KafkaConnectionOptions } from '../interfaces/change-stream-options.interface';
import { KAFKA_LIBRARY_KEYS } from '../options/kafka';
import type { ProducerThreadData } from '../publisher/producer-thread';

/** The kafkajs client settings of the `kafka` section. */
export function kafkaConfig(options: KafkaConnectionOptions): KafkaConfig {
  const passthrough: Record<string, unknown> = { ...options };
  for (const key of KAFKA_LIBRARY_KEYS) delete passthrough[key];
  return { ...(passthrough as Omit<KafkaConfig, 'brokers'>), brokers: options.brokers! };
}

/** What a producer thread is started with, from the `kafka` section. */
export function producerThreadData(options: KafkaConnectionOptions): ProducerThreadData {
  return { kafka: kafkaConfig(options), producer: options.producer, compression: options.compression };
}
