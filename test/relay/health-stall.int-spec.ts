/**
 * The library's health indicator while Kafka is down: DOWN with the reason once the relay's send has
 * waited longer than `relay.maxPublishStallMs`, UP again once the broker is back, and UP while
 * the leader is merely idle.
 */
import type { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { MongoClient } from 'mongodb';
import {
  ChangeStreamHealthIndicator,
  ChangeStreamHealthModule,
  ChangeStreamModule,
  ChangeStreamStatus,
} from 'nest-change-stream';
import { uniqueName, useGround } from '../support/ground';
import { waitFor } from '../support/wait';
import { connectMongo, relayOptions } from './support';

const STALL_MS = 1_500;

interface StreamDetails {
  publishStalledMs: number | null;
  consecutivePublishFailures: number;
}

describe('relay health while Kafka cannot be reached', () => {
  // A broker of this file's own: the test kills it.
  const ground = useGround({ mongo: true, kafka: { dedicated: true } });
  let mongo: MongoClient;
  let app: INestApplicationContext | undefined;

  beforeAll(async () => {
    mongo = await connectMongo(ground());
  });
  afterAll(async () => {
    await app?.close();
    await mongo?.close();
  });

  it('goes DOWN naming the publish stall, and UP once the broker is back; an idle leader stays UP', async () => {
    const db = uniqueName('stall');
    const base = relayOptions(ground(), { streams: [{ db, collection: 'orders' }] });
    const moduleRef = await Test.createTestingModule({
      imports: [
        ChangeStreamModule.forRoot({ ...base, relay: { ...base.relay, maxPublishStallMs: STALL_MS } }),
        ChangeStreamHealthModule.forRoot(),
      ],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const indicator = app.get(ChangeStreamHealthIndicator);
    const stream = () => app!.get(ChangeStreamStatus).snapshot().streams[0];
    const health = async () => {
      const result = (await indicator.isHealthy()).changeStream as Record<string, any>;
      return {
        up: result.status === 'up',
        problems: result.problems as string[],
        s: result.streams[0] as StreamDetails,
      };
    };
    const orders = mongo.db(db).collection<{ _id: number }>('orders');

    await waitFor(() => stream().role === 'leader', { what: 'leader' });
    await orders.insertOne({ _id: 1 });
    await waitFor(() => stream().eventsPublished === 1, { what: 'the first event published' });
    const publishedAt = Date.now();
    // Idle: nothing waits to be published, however long after the last event.
    await waitFor(async () => Date.now() - publishedAt > 2 * STALL_MS && (await health()).up, {
      what: 'an idle leader UP past the stall limit',
    });

    const kafka = ground().kafka!;
    await kafka.kill(1);
    try {
      await orders.insertOne({ _id: 2 });
      const down = await waitFor(async () => ((await health()).up ? null : health()), {
        what: 'health DOWN while the broker is down',
        timeoutMs: 20_000,
      });
      expect(down.problems).toEqual([
        expect.stringMatching(
          new RegExp(
            `^stream "${db}.orders": publish stalled since \\S+ \\(\\d+ s, \\d+ consecutive failures\\)$`,
          ),
        ),
      ]);
      expect(down.s.publishStalledMs).toBeGreaterThan(STALL_MS);
    } finally {
      await kafka.restart(1);
    }
    const up = await waitFor(async () => ((await health()).up ? health() : null), {
      what: 'health UP once the broker is back',
      timeoutMs: 60_000,
    });
    expect(up.s).toMatchObject({ publishStalledMs: null, consecutivePublishFailures: 0 });
    expect(stream().eventsPublished).toBe(2);
  }, 120_000);
});
