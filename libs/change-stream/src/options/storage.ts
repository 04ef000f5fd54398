/** The `storage` section (the library's own collections) and the namespaces never relayed. */
import { InvalidOptionsError } from '../errors/invalid-options.error';
import type { ResolvedChangeStreamOptions } from '../interfaces/change-stream-options.interface';
import { name, section, stringList } from '../utils/option-validators';
import { DEFAULTS } from './defaults';

type Storage = ResolvedChangeStreamOptions['storage'];
const COLLECTIONS = [
  'checkpoints',
  'leases',
  'processed',
  'offsets',
] as const satisfies readonly (keyof Storage)[];

/** A database name MongoDB accepts. */
export function databaseName(value: unknown, path: string): string {
  const db = name(value, path, 'a database name');
  if (/[/\\. "]/.test(db))
    throw new InvalidOptionsError(path, 'a database name without / \\ . " or spaces', db);
  return db;
}

/** The `storage` section with its defaults. */
export function resolveStorage(value: unknown): Storage {
  const storage = section(value, 'storage', false, Object.keys(DEFAULTS.storage)) ?? {};
  const resolved: Storage = { ...DEFAULTS.storage };
  if (storage.database !== undefined) resolved.database = databaseName(storage.database, 'storage.database');
  for (const key of COLLECTIONS) {
    if (storage[key] !== undefined) resolved[key] = name(storage[key], `storage.${key}`, 'a collection name');
  }
  return resolved;
}

/** The user's `excludeNamespaces` plus the library's own collections (never watched). */
export function resolveExcluded(value: unknown, storage: Storage): string[] {
  const user =
    value === undefined
      ? []
      : stringList(value, 'excludeNamespaces', "'db' or 'db.collection' strings", (ns) =>
          /^[^.$\s]+(\..+)?$/.test(ns),
        );
  return [...user, ...COLLECTIONS.map((coll) => `${storage.database}.${storage[coll]}`)];
}
