/**
 * The server the spec tests run against: MONGO_URL when set (a real mongod replica set), else a
 * fresh MongoDB stand-in.
 */
import { startMongoStandin } from '../../tools/mongo-standin';

/** A server to run against, and how to release it. */
export interface SpecTarget {
  uri: string;
  /** "stand-in" or "MONGO_URL". */
  kind: string;
  stop(): Promise<void>;
}

/** Starts the stand-in unless MONGO_URL names a server. */
export async function startSpecTarget(): Promise<SpecTarget> {
  const url = process.env.MONGO_URL;
  if (url) return { uri: url, kind: 'MONGO_URL', stop: async () => undefined };
  const standin = await startMongoStandin();
  return { uri: standin.url, kind: 'stand-in', stop: () => standin.stop() };
}
