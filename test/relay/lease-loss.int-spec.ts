import type { MongoClient } from 'mongodb';
import { uniqueName, useGround } from '../support/ground';
import { waitFor } from '../support/wait';
import { connectMongo, relayOptions, startRelay, TopicReader, type RelayApp } from './support';

describe('relay: a leader whose lease renewal fails', () => {
  const ground = useGround({ mongo: true, kafka: true, redis: 3 });
  let mongo: MongoClient;
  let relay: RelayApp | undefined;
  let reader: TopicReader | undefined;

  beforeAll(async () => {
    mongo = await connectMongo(ground());
  });
  afterAll(async () => {
    await relay?.close();
    await reader?.stop();
    await mongo?.close();
  });

  it('stops publishing at once, and only a new epoch publishes what came after', async () => {
    const db = uniqueName('renewal');
    relay = await startRelay(relayOptions(ground(), { streams: [{ db, collection: 'orders' }] }));
    const stream = () => relay!.status().streams[0];
    await waitFor(() => stream().role === 'leader' && stream().epoch === 1, { what: 'leader with epoch 1' });
    const orders = mongo.db(db).collection<{ _id: string }>('orders');
    await orders.insertMany([{ _id: 'before-1' }, { _id: 'before-2' }]);
    await waitFor(() => stream().eventsPublished === 2, { what: 'events before the outage' });

    // A majority of the Redis servers goes away: the next renewal fails and the leader steps down.
    await ground().redis[0].stop(true);
    await ground().redis[1].stop(true);
    await waitFor(() => stream().role === 'standby', { what: 'the leader to step down' });
    expect(stream().lastError?.message).toMatch(/renewal failed|renewal rejected|safety margin/);
    await orders.insertMany([{ _id: 'during-1' }, { _id: 'during-2' }]);

    await ground().redis[0].start();
    await ground().redis[1].start();
    await waitFor(() => stream().role === 'leader' && stream().epoch === 2, {
      what: 'leader again with epoch 2',
    });

    reader = await new TopicReader(ground().kafkaBrokers, [`cdc.${db}.orders`]).start();
    await reader.waitFor(
      // NOTE: the four keys may sit on different partitions: wait for all of them, not only the last writes.
      (m) =>
        ['before-1', 'before-2', 'during-1', 'during-2'].every((id) =>
          m.some((x) => x.event.documentKey._id === id),
        ),
      'the writes made before and during the outage',
    );
    const during = reader.messages.filter((m) => String(m.event.documentKey._id).startsWith('during'));
    expect(during.map((m) => m.epoch)).toEqual([2, 2]);
    expect(reader.messages.filter((m) => m.epoch === 1).map((m) => m.event.documentKey._id)).toEqual([
      'before-1',
      'before-2',
    ]);
  });
});
