/** The `kafka` section: where Kafka is, the topic prefix, and whether the producer may run on its own thread. */
import { InvalidOptionsError } from '../errors/invalid-options.error';
import type {
  KafkaConnectionOptions,
  ResolvedChangeStreamOptions,
} from '../interfaces/change-stream-options.interface';
import {
  exactlyOne,
  hasMethods,
  isObject,
  optionKeys,
  section,
  stringList,
} from '../utils/option-validators';
import { DEFAULTS } from './defaults';
import { TOPIC_NAME } from './routing';

/** Library-only keys of the `kafka` section; everything else is kafkajs' KafkaConfig, passed through. */
export const KAFKA_LIBRARY_KEYS = [
  'brokers',
  'client',
  'topicPrefix',
  'producer',
  'compression',
  'producerThread',
] as const;

/** Every key of the `kafka` section: the compiler keeps it in step with KafkaConnectionOptions (and kafkajs). */
const KAFKA_KEYS = optionKeys<KafkaConnectionOptions>({
  ...(Object.fromEntries(KAFKA_LIBRARY_KEYS.map((key) => [key, true])) as Record<
    (typeof KAFKA_LIBRARY_KEYS)[number],
    true
  >),
  clientId: true,
  ssl: true,
  sasl: true,
  connectionTimeout: true,
  authenticationTimeout: true,
  reauthenticationThreshold: true,
  requestTimeout: true,
  enforceRequestTimeout: true,
  retry: true,
  socketFactory: true,
  logLevel: true,
  logCreator: true,
});
const HOST_PORT = /^[^\s:/]+:\d{1,5}$/;

/**
 * The name of the first setting that cannot move to another thread (a function, a class instance
 * such as a logCreator or an oauthBearerProvider), or null when all of them can.
 */
export function unclonableSetting(data: { kafka: object; producer?: object }): string | null {
  for (const [where, value] of [
    ['kafka', data.kafka],
    ['kafka.producer', data.producer ?? {}],
  ] as const) {
    for (const [key, setting] of Object.entries(value)) {
      try {
        structuredClone(setting);
      } catch {
        return `${where}.${key}`;
      }
    }
  }
  return null;
}

/** `producerThread: true` needs brokers (not a client) and settings another thread can receive. */
function checkProducerThread(kafka: Record<string, unknown>, source: string): void {
  if (kafka.producerThread !== undefined && typeof kafka.producerThread !== 'boolean')
    throw new InvalidOptionsError('kafka.producerThread', 'true or false', kafka.producerThread);
  if (kafka.producerThread !== true) return;
  if (source === 'client')
    throw new InvalidOptionsError(
      'kafka.producerThread',
      'true only with "kafka.brokers" (an existing kafkajs client cannot move to another thread)',
      kafka.producerThread,
    );
  const passthrough = Object.fromEntries(
    Object.entries(kafka).filter(([key]) => !(KAFKA_LIBRARY_KEYS as readonly string[]).includes(key)),
  );
  const blocker = unclonableSetting({ kafka: passthrough, producer: kafka.producer as object | undefined });
  if (blocker)
    throw new InvalidOptionsError(
      'kafka.producerThread',
      `true only with settings that can move to another thread ("${blocker}" cannot: functions and class instances stay in this thread; set producerThread: false)`,
      kafka.producerThread,
    );
}

/** The `kafka` section with its defaults (`clientId`, `topicPrefix`). */
export function resolveKafka(value: unknown): ResolvedChangeStreamOptions['kafka'] {
  const kafka = section(value, 'kafka', true, KAFKA_KEYS)!;
  const source = exactlyOne(kafka, 'kafka', ['brokers', 'client']);
  if (source === 'brokers')
    stringList(kafka.brokers, 'kafka.brokers', "'host:port' strings", (b) => HOST_PORT.test(b));
  if (source === 'client' && !hasMethods(kafka.client, 'producer', 'consumer')) {
    throw new InvalidOptionsError('kafka.client', 'a kafkajs Kafka instance', kafka.client);
  }
  const topicPrefix = kafka.topicPrefix ?? DEFAULTS.kafka.topicPrefix;
  if (typeof topicPrefix !== 'string' || !TOPIC_NAME.test(topicPrefix)) {
    throw new InvalidOptionsError(
      'kafka.topicPrefix',
      'a topic-name prefix of letters, digits, ".", "_" or "-"',
      topicPrefix,
    );
  }
  if (kafka.producer !== undefined && !isObject(kafka.producer))
    throw new InvalidOptionsError('kafka.producer', 'an object of kafkajs ProducerConfig', kafka.producer);
  checkProducerThread(kafka, source);
  return { clientId: DEFAULTS.kafka.clientId, ...kafka, topicPrefix } as ResolvedChangeStreamOptions['kafka'];
}
