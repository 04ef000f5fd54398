/**
 * Jest helper of the stand-in's own specs: one stand-in and one connected driver client per spec file
 * (started in beforeAll, stopped in afterAll), and a fresh database name per call.
 */
import { MongoClient, type Db } from 'mongodb';
import { startMongoStandin, type MongoStandin } from './harness';

/** What {@link useStandin} hands a spec: getters, since the stand-in exists only once beforeAll ran. */
export interface StandinUnderTest {
  mongo(): MongoStandin;
  client(): MongoClient;
  /** A database no other test of the file used: `<prefix><n>`. */
  freshDb(): Db;
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
  };
}
