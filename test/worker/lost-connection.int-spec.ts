/**
 * A shared transaction whose connection is lost mid-way, and whose abort is lost too, must not keep
 * its documents locked. mongod ties a transaction to its logical session, not to a connection: an
 * open transaction whose client lost its connection holds its writes until something ends it (an
 * abortTransaction, killSessions / endSessions, or transactionLifetimeLimitSeconds, 60 s by
 * default). Until then every other transaction writing those documents gets WriteConflict: the
 * chaos run's "mongo-connection-drop" stalled every worker that way.
 */
import { MongoClient, type ClientSession, type Collection } from 'mongodb';
import type { WorkerModuleOptions } from '../../libs/change-stream/src/worker/worker-module-options';
import { MongoEffectExecutor } from '../../libs/change-stream/src/idempotency/mongo-effect.executor';
import { ProcessedEventStore } from '../../libs/change-stream/src/idempotency/processed-event.store';
import { validateWorkerOptions } from '../../libs/change-stream/src/options/worker';
import { uniqueName, useGround } from '../support/ground';

const ground = useGround({ kafka: false });

describe('a transaction whose connection and abort are lost', () => {
  let client: MongoClient;
  let counters: Collection<{ _id: string; n: number }>;
  let executor: MongoEffectExecutor;

  beforeAll(async () => {
    client = await new MongoClient(ground().mongoUrl, { retryWrites: false }).connect();
    counters = client.db(uniqueName('app')).collection('counters');
    const options: WorkerModuleOptions = {
      roles: { worker: true },
      worker: validateWorkerOptions({}),
      streams: [],
      excludeNamespaces: [],
      kafka: { topicPrefix: 'cdc' },
      storage: { database: uniqueName('lib'), processed: 'processed' },
    };
    executor = new MongoEffectExecutor(client, new ProcessedEventStore(client, options));
  });
  afterAll(async () => {
    await client?.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
    await client?.close();
  });

  it('is ended on the server at once: its retry applies the effect once, and later transactions do not conflict', async () => {
    const id = uniqueName('counter');
    // The handler's write loses its connection, and so does the abort that follows (the driver tries it twice).
    await client.db('admin').command({
      configureFailPoint: 'failCommand',
      mode: { times: 3 },
      data: { failCommands: ['delete', 'abortTransaction'], closeConnection: true },
    });
    const effect = {
      markers: [{ handlerId: 'H.m', eventId: uniqueName('ev'), topic: 't', partition: 0, offset: '1' }],
      // Its first write lands (the transaction now holds the counter), its second loses the connection.
      effect: async (session: ClientSession) => {
        await counters.updateOne({ _id: id }, { $inc: { n: 1 } }, { session });
        await counters.deleteOne({ _id: `${id}-other` }, { session });
      },
    };
    await counters.insertOne({ _id: id, n: 0 });
    // Before the fix: the runs that follow (a write conflict is retried) all conflicted with the
    // first one, still open on the server, and runShared gave up; a worker would stall until the
    // server's transaction lifetime limit.
    await executor.runShared([effect]);
    expect((await counters.findOne({ _id: id }))?.n).toBe(1);

    const session = client.startSession();
    try {
      session.startTransaction();
      await counters.updateOne({ _id: id }, { $inc: { n: 10 } }, { session });
      await session.commitTransaction();
    } finally {
      await session.endSession();
    }
    expect((await counters.findOne({ _id: id }))?.n).toBe(11);
  });
});
