import { InvalidOptionsError } from '../errors/invalid-options.error';
import { assertMarkerRetention, type TopicRetention } from './marker-retention';

describe('assertMarkerRetention', () => {
  const topic = (overrides: Partial<TopicRetention> = {}): TopicRetention => ({
    topic: 'cdc.shop.orders',
    retentionMs: 120_000,
    segmentMs: 60_000,
    cleanupPolicy: 'delete',
    ...overrides,
  });

  it('accepts a retention that covers retention.ms + segment.ms of every topic', () => {
    expect(() =>
      assertMarkerRetention(180_000, [topic(), topic({ topic: 'b', retentionMs: 1 })]),
    ).not.toThrow();
  });

  it('refuses one that does not, naming the topic and both values', () => {
    expect(() => assertMarkerRetention(179_999, [topic()])).toThrow(
      new InvalidOptionsError(
        'worker.markerRetentionMs',
        'at least 180000 ms: topic cdc.shop.orders keeps a message readable for up to retention.ms 120000 + segment.ms 60000 (Kafka deletes whole segments)',
        179_999,
      ),
    );
  });

  it.each([
    [{ retentionMs: -1 }, 'retention.ms -1'],
    [{ cleanupPolicy: 'compact' }, 'cleanup.policy compact'],
  ])('asks for Infinity when a topic keeps messages forever (%o)', (overrides, why) => {
    expect(() => assertMarkerRetention(Number.MAX_SAFE_INTEGER, [topic(overrides)])).toThrow(
      `expected Infinity (markers kept forever): topic cdc.shop.orders keeps messages forever (${why})`,
    );
    expect(() => assertMarkerRetention(Infinity, [topic(overrides)])).not.toThrow();
  });

  it('treats compact,delete as deleting after retention.ms', () => {
    expect(() => assertMarkerRetention(100_000, [topic({ cleanupPolicy: 'compact,delete' })])).toThrow(
      'at least 180000 ms',
    );
  });
});
