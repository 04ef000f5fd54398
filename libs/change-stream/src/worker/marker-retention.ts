import { Inject, Injectable } from '@nestjs/common';
import { ConfigResourceTypes, type Admin, type Kafka } from 'kafkajs';
import { CHANGE_STREAM_KAFKA, CHANGE_STREAM_OPTIONS } from '../change-stream.constants';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import type { WorkerModuleOptions } from './worker-module-options';

/**
 * A topic's `retention.ms`, `segment.ms` and `cleanup.policy` (the broker's defaults where the topic
 * sets none). `retention.ms` -1, or a policy without `delete` (compaction only): kept forever.
 */
export interface TopicRetention {
  topic: string;
  retentionMs: number;
  segmentMs: number;
  cleanupPolicy: string;
}

const OPTION = 'worker.markerRetentionMs';
const TOPIC_CONFIGS = ['retention.ms', 'segment.ms', 'cleanup.policy'] as const;
type TopicConfig = (typeof TOPIC_CONFIGS)[number];

/** The broker settings a topic without its own value uses, most precise first, with their unit in ms (1 for text). */
const BROKER_DEFAULTS: Record<TopicConfig, ReadonlyArray<readonly [string, number]>> = {
  'retention.ms': [
    ['log.retention.ms', 1],
    ['log.retention.minutes', 60_000],
    ['log.retention.hours', 3_600_000],
  ],
  'segment.ms': [
    ['log.roll.ms', 1],
    ['log.roll.hours', 3_600_000],
  ],
  'cleanup.policy': [['log.cleanup.policy', 1]],
};

/**
 * The worker's start-up check that `worker.markerRetentionMs` covers how long its topics keep a
 * message readable ({@link assertMarkerRetention}). Internal.
 */
@Injectable()
export class MarkerRetentionCheck {
  constructor(
    @Inject(CHANGE_STREAM_KAFKA) private readonly kafka: Kafka,
    @Inject(CHANGE_STREAM_OPTIONS) private readonly options: WorkerModuleOptions,
  ) {}

  /** Throws InvalidOptionsError when a topic keeps a message readable longer than the markers are kept. */
  async verify(topics: readonly string[]): Promise<void> {
    assertMarkerRetention(
      this.options.worker.markerRetentionMs,
      await readTopicRetention(this.kafka, topics),
    );
  }
}

/**
 * Throws InvalidOptionsError (naming the topic, both values and their sum) when a redelivery can come
 * later than the markers are kept: Kafka deletes whole segments, so a message stays readable for up
 * to `retention.ms` + `segment.ms`. A topic that keeps messages forever (`retention.ms` -1, or
 * compaction only) needs markers kept forever (`Infinity`): no finite retention covers it, and a
 * new or reset group (`fromBeginning`) would apply its old events again once their markers expired.
 */
export function assertMarkerRetention(markerRetentionMs: number, topics: readonly TopicRetention[]): void {
  for (const { topic, retentionMs, segmentMs, cleanupPolicy } of topics) {
    const forever = foreverBecause(retentionMs, cleanupPolicy);
    if (forever !== undefined) {
      if (markerRetentionMs === Infinity) continue;
      throw new InvalidOptionsError(
        OPTION,
        `Infinity (markers kept forever): topic ${topic} keeps messages forever (${forever})`,
        markerRetentionMs,
      );
    }
    const readable = retentionMs + segmentMs;
    if (markerRetentionMs < readable) {
      throw new InvalidOptionsError(
        OPTION,
        `at least ${readable} ms: topic ${topic} keeps a message readable for up to retention.ms ${retentionMs} + segment.ms ${segmentMs} (Kafka deletes whole segments)`,
        markerRetentionMs,
      );
    }
  }
}

/** Why a topic keeps messages forever, or undefined when it deletes them after `retention.ms`. */
function foreverBecause(retentionMs: number, cleanupPolicy: string): string | undefined {
  if (!cleanupPolicy.split(',').some((policy) => policy.trim() === 'delete'))
    return `cleanup.policy ${cleanupPolicy}`;
  return retentionMs < 0 ? 'retention.ms -1' : undefined;
}

/**
 * Reads `retention.ms`, `segment.ms` and `cleanup.policy` of the topics (describeConfigs). A topic that does not exist
 * yet will be created with the broker's defaults, which are read instead.
 */
export async function readTopicRetention(kafka: Kafka, topics: readonly string[]): Promise<TopicRetention[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const described = await describeTopics(
      admin,
      topics.filter((topic) => existing.has(topic)),
    );
    const needsBroker = topics.some((topic) =>
      TOPIC_CONFIGS.some((name) => described.get(topic)?.[name] == null),
    );
    const broker = needsBroker ? await brokerDefaults(admin) : undefined;
    return topics.map((topic) => {
      const value = (name: TopicConfig): string => {
        const found = described.get(topic)?.[name] ?? broker?.[name];
        if (found == null) throw new Error(`neither topic ${topic} nor the broker names its ${name}`);
        return found;
      };
      return {
        topic,
        retentionMs: Number(value('retention.ms')),
        segmentMs: Number(value('segment.ms')),
        cleanupPolicy: value('cleanup.policy'),
      };
    });
  } finally {
    await admin.disconnect();
  }
}

type TopicValues = Partial<Record<TopicConfig, string | null>>;

async function describeTopics(admin: Admin, topics: readonly string[]): Promise<Map<string, TopicValues>> {
  const out = new Map<string, TopicValues>();
  if (topics.length === 0) return out;
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({
      type: ConfigResourceTypes.TOPIC,
      name,
      configNames: [...TOPIC_CONFIGS],
    })),
  });
  for (const resource of resources) {
    const values: TopicValues = {};
    for (const entry of resource.configEntries) values[entry.configName as TopicConfig] = entry.configValue;
    out.set(resource.resourceName, values);
  }
  return out;
}

async function brokerDefaults(admin: Admin): Promise<Partial<Record<TopicConfig, string>>> {
  const { brokers } = await admin.describeCluster();
  const names = Object.values(BROKER_DEFAULTS).flatMap((list) => list.map(([name]) => name));
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.BROKER, name: String(brokers[0].nodeId), configNames: names }],
  });
  const raw = new Map(resources[0].configEntries.map((e) => [e.configName, e.configValue]));
  const out: Partial<Record<TopicConfig, string>> = {};
  for (const name of TOPIC_CONFIGS) {
    const found = BROKER_DEFAULTS[name].find(([setting]) => raw.get(setting) != null);
    const text = found ? raw.get(found[0]) : undefined;
    if (found && text) out[name] = found[1] === 1 ? text : String(Number(text) * found[1]);
  }
  return out;
}
