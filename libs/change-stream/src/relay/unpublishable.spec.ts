import { resolveOptions } from '../options/resolve-options';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import type { RelayOptions } from '../interfaces/change-stream-options.interface';

const relayOf = (relay: RelayOptions, topicPrefix?: string) =>
  resolveOptions({
    mongo: { uri: 'mongodb://h:1' },
    kafka: { brokers: ['h:1'], topicPrefix },
    streams: [{ db: 'shop' }],
    relay,
  }).relay;

describe('relay.onUnpublishable / deadLetterTopic / maxBatchBytes options', () => {
  it("default to 'fail', `<topicPrefix>-relay.dlq` and 8 MiB", () => {
    expect(relayOf({})).toMatchObject({
      onUnpublishable: 'fail',
      deadLetterTopic: 'cdc-relay.dlq',
      maxBatchBytes: 8 * 1024 * 1024,
    });
    expect(relayOf({}, 'prod').deadLetterTopic).toBe('prod-relay.dlq');
    expect(relayOf({ onUnpublishable: 'deadLetter', deadLetterTopic: 'dlq.relay' })).toMatchObject({
      onUnpublishable: 'deadLetter',
      deadLetterTopic: 'dlq.relay',
    });
  });

  it('refuse bad values at start-up, naming the option', () => {
    expect(() => relayOf({ onUnpublishable: 'skip' as never })).toThrow(InvalidOptionsError);
    expect(() => relayOf({ onUnpublishable: 'skip' as never })).toThrow(/relay\.onUnpublishable/);
    expect(() => relayOf({ deadLetterTopic: 'bad topic' })).toThrow(/relay\.deadLetterTopic/);
    expect(() => relayOf({ maxBatchBytes: 10 })).toThrow(/relay\.maxBatchBytes/);
  });
});
