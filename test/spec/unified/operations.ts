/**
 * The operations of the unified test format this runner supports (those of the change-stream spec
 * tests and a few common CRUD / DDL ones), executed with the real `mongodb` driver.
 */
import type { Document } from 'bson';
import type { ChangeStream, ChangeStreamOptions, Collection, Db, MongoClient } from 'mongodb';
import type { EntityMap } from './entities';

/** One `operations[]` item. */
export interface OperationDescription {
  name: string;
  object: string;
  arguments?: Document;
  expectResult?: unknown;
  expectError?: Document;
  saveResultAsEntity?: string;
  ignoreResultAndError?: boolean;
}

/** A fail point a test enabled, to be switched off afterwards. */
export interface EnabledFailPoint {
  client: MongoClient;
  name: string;
}

/** What an operation can reach. */
export interface OperationContext {
  entities: EntityMap;
  failPoints: EnabledFailPoint[];
}

type Handler = (target: any, args: Document, context: OperationContext) => Promise<unknown>;

const watch: Handler = async (target: MongoClient | Db | Collection, { pipeline = [], ...options }) => {
  const stream = target.watch(pipeline, options as ChangeStreamOptions);
  // NOTE: watch() is lazy; the unified format expects the aggregate (and its errors) at creation,
  // as the driver's own unified runner does by initialising the cursor here.
  await (stream as unknown as { cursor: { cursorInit(): Promise<void> } }).cursor.cursorInit();
  return stream;
};

const HANDLERS: Record<string, Handler> = {
  createChangeStream: watch,
  iterateUntilDocumentOrError: (stream: ChangeStream) => stream.next(),
  iterateOnce: (stream: ChangeStream) => stream.tryNext(),
  close: async (target: { close(): Promise<void> }) => void (await target.close()),

  insertOne: (c: Collection, { document, ...options }) => c.insertOne(document, options),
  insertMany: (c: Collection, { documents, ...options }) => c.insertMany(documents, options),
  updateOne: (c: Collection, { filter, update, ...options }) => c.updateOne(filter, update, options),
  updateMany: (c: Collection, { filter, update, ...options }) => c.updateMany(filter, update, options),
  replaceOne: (c: Collection, { filter, replacement, ...options }) =>
    c.replaceOne(filter, replacement, options),
  deleteOne: (c: Collection, { filter, ...options }) => c.deleteOne(filter, options),
  deleteMany: (c: Collection, { filter, ...options }) => c.deleteMany(filter, options),
  find: (c: Collection, { filter = {}, ...options }) => c.find(filter, options).toArray(),
  aggregate: (c: Collection | Db, { pipeline, ...options }) => c.aggregate(pipeline, options).toArray(),
  countDocuments: (c: Collection, { filter = {}, ...options }) => c.countDocuments(filter, options),
  createIndex: (c: Collection, { keys, ...options }) => c.createIndex(keys, options),
  dropIndex: (c: Collection, { name, ...options }) => c.dropIndex(name, options),
  rename: async (c: Collection, { to, ...options }) => void (await c.rename(to, options)),
  renameCollection: async (c: Collection, { to, ...options }) => void (await c.rename(to, options)),

  createCollection: async (db: Db, { collection, ...options }) =>
    void (await db.createCollection(collection, options)),
  dropCollection: (db: Db, { collection, ...options }) => db.dropCollection(collection, options),
  dropDatabase: (db: Db, options) => db.dropDatabase(options),
  modifyCollection: (db: Db, { collection, ...options }) => db.command({ collMod: collection, ...options }),
  runCommand: (db: Db, { command, readPreference }) =>
    db.command(command, readPreference ? { readPreference } : {}),
  listCollections: (db: Db, { filter = {}, ...options }) => db.listCollections(filter, options).toArray(),
};

/** `testRunner` operations. */
const RUNNER_HANDLERS: Record<string, (args: Document, context: OperationContext) => Promise<unknown>> = {
  failPoint: async ({ client, failPoint }, { entities, failPoints }) => {
    const mongoClient = entities.client(client).client;
    await mongoClient.db('admin').command(failPoint);
    failPoints.push({ client: mongoClient, name: failPoint.configureFailPoint });
  },
};

/** Runs one operation and returns its result (errors propagate). */
export async function executeOperation(
  operation: OperationDescription,
  context: OperationContext,
): Promise<unknown> {
  const args = resolveSession(operation.arguments ?? {}, context.entities);
  if (operation.object === 'testRunner') {
    const handler = RUNNER_HANDLERS[operation.name];
    if (!handler) throw new UnsupportedOperationError(`testRunner.${operation.name}`);
    return handler(args, context);
  }
  const handler = HANDLERS[operation.name];
  if (!handler) throw new UnsupportedOperationError(operation.name);
  return handler(context.entities.target(operation.object), args, context);
}

/** An operation this runner does not implement (reported as a failure naming it). */
export class UnsupportedOperationError extends Error {
  override name = 'UnsupportedOperationError';

  constructor(operation: string) {
    super(`unsupported operation '${operation}'`);
  }
}

function resolveSession(args: Document, entities: EntityMap): Document {
  return typeof args.session === 'string' ? { ...args, session: entities.session(args.session) } : args;
}
