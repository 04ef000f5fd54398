import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Kafka } from 'kafkajs';
import { MongoClient } from 'mongodb';
import mongoose from 'mongoose';
import {
  CHANGE_STREAM_KAFKA,
  CHANGE_STREAM_MONGO_CLIENT,
  CHANGE_STREAM_OPTIONS,
  ChangeStreamModule,
  ChangeStreamStatus,
  InvalidOptionsError,
  type ResolvedChangeStreamOptions,
} from 'nest-change-stream';
import { useGround } from '../support/ground';

/** Module wiring without the relay role running (relay: false): options, clients, ownership. */
describe('ChangeStreamModule wiring', () => {
  const ground = useGround({ mongo: true, kafka: false });
  const kafkaOptions = { brokers: ['127.0.0.1:9'] };

  it('forRootAsync resolves options from an injected factory and can be global', async () => {
    @Injectable()
    class Settings {
      readonly mongoUrl = ground().mongoUrl;
    }
    @Module({ providers: [Settings], exports: [Settings] })
    class SettingsModule {}
    /** Injects an export of ChangeStreamModule without importing it: works only when the module is global. */
    @Injectable()
    class Elsewhere {
      constructor(readonly status: ChangeStreamStatus) {}
    }
    @Module({ providers: [Elsewhere] })
    class FeatureModule {}

    const moduleRef = await Test.createTestingModule({
      imports: [
        ChangeStreamModule.forRootAsync({
          imports: [SettingsModule],
          inject: [Settings],
          useFactory: (settings: Settings) => ({
            relay: false,
            worker: false,
            mongo: { uri: settings.mongoUrl },
            kafka: { ...kafkaOptions, topicPrefix: 'async' },
          }),
          isGlobal: true,
        }),
        FeatureModule,
      ],
    }).compile();
    const app = await moduleRef.createNestApplication({ logger: false }).init();
    try {
      const options = app.get<ResolvedChangeStreamOptions>(CHANGE_STREAM_OPTIONS);
      expect(options.kafka.topicPrefix).toBe('async');
      expect(app.get(CHANGE_STREAM_KAFKA)).toBeInstanceOf(Kafka);
      expect(app.get(CHANGE_STREAM_MONGO_CLIENT)).toBeInstanceOf(MongoClient);
      expect(app.get(Elsewhere).status).toBe(app.get(ChangeStreamStatus));
    } finally {
      await app.close();
    }
  });

  it('stops start-up with an error naming the bad option', async () => {
    const build = Test.createTestingModule({
      imports: [
        ChangeStreamModule.forRoot({
          relay: false,
          worker: false,
          mongo: { uri: ground().mongoUrl },
          kafka: kafkaOptions,
          lease: { ttlMs: 0 },
        }),
      ],
    }).compile();
    await expect(build).rejects.toThrow(InvalidOptionsError);
    await expect(build).rejects.toThrow(
      'Invalid ChangeStreamModule option "lease.ttlMs": expected an integer from 1000 to 60000, got 0',
    );
  });

  it('shares the given MongoClient (or a mongoose connection’s) and never closes it; closes the one it created', async () => {
    const own = await new MongoClient(ground().mongoUrl).connect();
    const connection = await mongoose.createConnection(ground().mongoUrl).asPromise();
    try {
      const boot = async (mongo: object) => {
        const moduleRef = await Test.createTestingModule({
          imports: [ChangeStreamModule.forRoot({ relay: false, worker: false, mongo, kafka: kafkaOptions })],
        }).compile();
        return moduleRef.createNestApplication({ logger: false }).init();
      };
      const withClient = await boot({ client: own });
      expect(withClient.get(CHANGE_STREAM_MONGO_CLIENT)).toBe(own);
      await withClient.close();
      await expect(own.db('x').command({ ping: 1 })).resolves.toMatchObject({ ok: 1 });

      const withMongoose = await boot({ connection });
      expect(withMongoose.get(CHANGE_STREAM_MONGO_CLIENT)).toBe(connection.getClient());
      await withMongoose.close();
      await expect(connection.db!.command({ ping: 1 })).resolves.toMatchObject({ ok: 1 });

      const withUri = await boot({ uri: ground().mongoUrl });
      const created = withUri.get<MongoClient>(CHANGE_STREAM_MONGO_CLIENT);
      await expect(created.db('x').command({ ping: 1 })).resolves.toMatchObject({ ok: 1 });
      await withUri.close();
      await expect(created.db('x').command({ ping: 1 })).rejects.toThrow(/closed|must be connected/i);
    } finally {
      await own.close();
      await connection.close();
    }
  });
});
