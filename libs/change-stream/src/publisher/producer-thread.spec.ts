import { ChangeStreamConnections } from '../connections/change-stream-connections';
import { resolveOptions } from '../change-stream.options';
import type { OutgoingMessage } from './outgoing-message';
import { joinParts, packMessages, unclonableSetting, unpackMessages } from './producer-thread';

describe('packMessages / joinParts / unpackMessages', () => {
  it('round-trips topics, keys, values and headers byte for byte, in order', () => {
    const messages: OutgoingMessage[] = [
      {
        topic: 'cdc.shop.orders',
        key: '{"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"}}',
        value: '{"operationType":"insert","fullDocument":{"name":"Zoë – ünïcødé 🚚"}}',
        headers: { 'cdc-event-id': '8201A2', 'cdc-epoch': '7' },
      },
      { topic: 'cdc.shop.ördérs', key: '', value: '', headers: {} },
      { topic: 't', key: 'k'.repeat(70_000), value: '€'.repeat(30_000), headers: { é: '' } },
    ];
    // Packed as the relay does: each event's messages when read, joined when sent.
    const parts = [packMessages(messages.slice(0, 1)), packMessages([]), packMessages(messages.slice(1))];
    const unpacked = unpackMessages(joinParts({ count: messages.length, parts }));
    expect(
      unpacked.map((m) => ({
        topic: m.topic,
        key: m.key.toString(),
        value: m.value.toString(),
        headers: Object.fromEntries(Object.entries(m.headers).map(([name, v]) => [name, v.toString()])),
      })),
    ).toEqual(messages);
    expect(Buffer.isBuffer(unpacked[0].value)).toBe(true);
  });

  it('packs an empty batch', () => {
    expect(unpackMessages(joinParts({ count: 0, parts: [] }))).toEqual([]);
    expect(packMessages([])).toHaveLength(0);
  });
});

describe('unclonableSetting', () => {
  it('names the first setting that cannot move to another thread', () => {
    expect(unclonableSetting({ kafka: { brokers: ['a:1'], ssl: true, sasl: undefined } })).toBeNull();
    expect(unclonableSetting({ kafka: { brokers: ['a:1'], logCreator: () => () => undefined } })).toBe(
      'kafka.logCreator',
    );
    expect(
      unclonableSetting({ kafka: { brokers: ['a:1'] }, producer: { createPartitioner: () => () => 0 } }),
    ).toBe('kafka.producer.createPartitioner');
  });
});

describe('ChangeStreamConnections.producerThread', () => {
  const connections = (kafka: Record<string, unknown>) =>
    new ChangeStreamConnections(
      resolveOptions({
        mongo: { uri: 'mongodb://localhost:27017/?replicaSet=rs0' },
        kafka: { brokers: ['localhost:9092'], ...kafka },
        streams: [{ db: 'shop', collection: 'orders' }],
      }),
    );

  it('is on by default with brokers, carrying the kafkajs settings but no library keys', () => {
    const data = connections({ clientId: 'orders', compression: 1 }).producerThread;
    expect(data).toEqual({
      kafka: { clientId: 'orders', brokers: ['localhost:9092'] },
      producer: undefined,
      compression: 1,
    });
  });

  it('is off when disabled, or when a setting cannot move to another thread', () => {
    expect(connections({ producerThread: false }).producerThread).toBeNull();
    expect(connections({ logCreator: () => () => undefined }).producerThread).toBeNull();
  });
});
