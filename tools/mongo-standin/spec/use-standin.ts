/**
 * Jest helper of the stand-in's own specs: one stand-in and one connected driver client per spec file
 * (started in beforeAll, stopped in afterAll), and a fresh database name per call.
 */
import { MongoClient, type Db } from 'mongodb';
import { waitFor } from '../../../test/support/wait';
import { startMongoStandin, type MongoStandin } from '..';

/** What {@link useStandin} hands a spec: getters, since the stand-in exists only once beforeAll ran. */
export interface StandinUnderTest {
  mongo(): MongoStandin;
  client(): MongoClient;
  /** A database no other test of the file used: `<prefix><n>`. */
  freshDb(): Db;
  /**
   * Resolves once exactly `writes.length` writes wait at the stand-in for an open transaction to end,
   * and fails if any of `writes` finished meanwhile.
   */
  expectBlocked(...writes: Array<Promise<unknown>>): Promise<void>;
}

export function useStandin(dbPrefix: string): StandinUnderTest {
  let mongo: MongoStandin | undefined;
  let client: MongoClient | undefined;
  let counter = 0;
  beforeAll(async () => {
    mongo = await startMongoStandin();
    client = await new MongoClient(mongo.url, { serverSelectionTimeoutMS: 5_000 }).connect();
  });
  afterAll(async () => {
    await client?.close();
    await mongo?.stop();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined)
      throw new Error('the stand-in is not started: call useStandin() in a describe block');
    return value;
  };
  return {
    mongo: () => started(mongo),
    client: () => started(client),
    freshDb: () => started(client).db(`${dbPrefix}${++counter}`),
    expectBlocked: async (...writes) => {
      const finished = writes.map(() => false);
      writes.forEach((write, i) => {
        const done = () => (finished[i] = true);
        write.then(done, done);
      });
      await waitFor(() => started(mongo).blockedWrites() === writes.length, {
        what: `${writes.length} write(s) waiting for a transaction`,
      });
      expect(finished).toEqual(writes.map(() => false));
    },
  };
}
