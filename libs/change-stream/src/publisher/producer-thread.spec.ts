import { ChangeStreamConnections } from '../connections/change-stream-connections';
import { resolveOptions } from '../options/resolve-options';

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
