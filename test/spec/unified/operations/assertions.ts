/** The assertion operations of the unified format (on the `testRunner` object). */
import type { Document } from 'bson';
import type { ClientSession, MongoClient } from 'mongodb';
import type { EntityMap } from '../entities';
import { AssertionFailure, type RunnerHandler } from './types';

/** The format's transaction state names, as the driver spells them. */
const TRANSACTION_STATES: Record<string, string> = {
  none: 'NO_TRANSACTION',
  starting: 'STARTING_TRANSACTION',
  in_progress: 'TRANSACTION_IN_PROGRESS',
  committed: 'TRANSACTION_COMMITTED',
  aborted: 'TRANSACTION_ABORTED',
};

function check(condition: boolean, message: string): void {
  if (!condition) throw new AssertionFailure(message);
}

async function collectionNames(client: MongoClient, databaseName: string): Promise<string[]> {
  const collections = await client.db(databaseName).listCollections({}, { nameOnly: true }).toArray();
  return collections.map(({ name }) => name);
}

async function indexNames(client: MongoClient, databaseName: string, collectionName: string) {
  try {
    const indexes = await client.db(databaseName).collection(collectionName).listIndexes().toArray();
    return indexes.map(({ name }) => name as string);
  } catch (error) {
    if ((error as { code?: number }).code === 26) return []; // NamespaceNotFound: no collection, no index
    throw error;
  }
}

/** The lsids of the last two commandStartedEvents of a client entity. */
function lastTwoLsids(entities: EntityMap, client: string): [Document, Document] {
  const started = entities.client(client).events.filter((e) => e.type === 'commandStartedEvent');
  check(started.length >= 2, `client ${client} observed ${started.length} commandStartedEvent(s), need 2`);
  const [a, b] = started.slice(-2).map((e) => e.command?.lsid as Document | undefined);
  check(!!a && !!b, `the last two commands of client ${client} do not both carry an lsid`);
  return [a!, b!];
}

const sameLsid = (a: Document, b: Document) => Buffer.from(a.id.buffer).equals(Buffer.from(b.id.buffer));

const session = (args: Document) => args.session as ClientSession;
const serverSession = (args: Document) => session(args).serverSession as unknown as { isDirty: boolean };

export const ASSERTION_HANDLERS: Record<string, RunnerHandler> = {
  assertSessionTransactionState: async (args) => {
    const state = (session(args).transaction as unknown as { state: string }).state;
    check(state === TRANSACTION_STATES[args.state], `transaction state is ${state}, expected ${args.state}`);
  },
  assertSessionPinned: async (args) => check(session(args).isPinned, 'session is not pinned'),
  assertSessionUnpinned: async (args) => check(!session(args).isPinned, 'session is pinned'),
  assertSessionDirty: async (args) => check(serverSession(args).isDirty, 'session is not dirty'),
  assertSessionNotDirty: async (args) => check(!serverSession(args).isDirty, 'session is dirty'),
  assertSameLsidOnLastTwoCommands: async ({ client }, { entities }) =>
    check(sameLsid(...lastTwoLsids(entities, client)), 'the last two commands used different lsids'),
  assertDifferentLsidOnLastTwoCommands: async ({ client }, { entities }) =>
    check(!sameLsid(...lastTwoLsids(entities, client)), 'the last two commands used the same lsid'),
  assertCollectionExists: async ({ databaseName, collectionName }, { internal }) =>
    check(
      (await collectionNames(internal, databaseName)).includes(collectionName),
      `collection ${databaseName}.${collectionName} does not exist`,
    ),
  assertCollectionNotExists: async ({ databaseName, collectionName }, { internal }) =>
    check(
      !(await collectionNames(internal, databaseName)).includes(collectionName),
      `collection ${databaseName}.${collectionName} exists`,
    ),
  assertIndexExists: async ({ databaseName, collectionName, indexName }, { internal }) =>
    check(
      (await indexNames(internal, databaseName, collectionName)).includes(indexName),
      `index ${indexName} does not exist on ${databaseName}.${collectionName}`,
    ),
  assertIndexNotExists: async ({ databaseName, collectionName, indexName }, { internal }) =>
    check(
      !(await indexNames(internal, databaseName, collectionName)).includes(indexName),
      `index ${indexName} exists on ${databaseName}.${collectionName}`,
    ),
};
