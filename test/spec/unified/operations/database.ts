/** Change streams, DDL and commands of the unified format on client, database and collection entities. */
import type { ChangeStream, ChangeStreamOptions, Collection, Db, MongoClient } from 'mongodb';
import type { Handler } from './types';

const watch: Handler = async (target: MongoClient | Db | Collection, { pipeline = [], ...options }) => {
  const stream = target.watch(pipeline, options as ChangeStreamOptions);
  // NOTE: watch() is lazy; the unified format expects the aggregate (and its errors) at creation,
  // as the driver's own unified runner does by initialising the cursor here.
  await (stream as unknown as { cursor: { cursorInit(): Promise<void> } }).cursor.cursorInit();
  return stream;
};

export const DATABASE_HANDLERS: Record<string, Handler> = {
  createChangeStream: watch,
  iterateUntilDocumentOrError: (stream: ChangeStream) => stream.next(),
  iterateOnce: (stream: ChangeStream) => stream.tryNext(),
  close: async (target: { close(): Promise<void> }) => void (await target.close()),

  createIndex: (c: Collection, { keys, ...options }) => c.createIndex(keys, options),
  dropIndex: (c: Collection, { name, ...options }) => c.dropIndex(name, options),
  rename: async (c: Collection, { to, ...options }) => void (await c.rename(to, options)),
  renameCollection: async (c: Collection, { to, ...options }) => void (await c.rename(to, options)),

  createCollection: async (db: Db, { collection, ...options }) =>
    void (await db.createCollection(collection, options)),
  dropCollection: (db: Db, { collection, ...options }) => db.dropCollection(collection, options),
  dropDatabase: (db: Db, options) => db.dropDatabase(options),
  modifyCollection: (db: Db, { collection, session, ...options }) =>
    db.command({ collMod: collection, ...options }, { session }),
  runCommand: (db: Db, { command, readPreference, session }) =>
    db.command(command, { readPreference, session }),
  listCollections: (db: Db, { filter = {}, ...options }) => db.listCollections(filter, options).toArray(),
};
