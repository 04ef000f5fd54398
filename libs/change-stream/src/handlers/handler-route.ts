import { defaultTopic, isExcluded, topicFor } from '../options/routing';
import type { ChangeHandlerMetadata } from './change-handler.decorator';
import { InvalidChangeHandlerError } from '../errors/invalid-change-handler.error';
import type { HandlerOptions } from './handler-options';

/** Where a handler's events come from. */
export interface HandlerRoute {
  database: string;
  collection: string;
  topic: string;
}

/**
 * Decides a handler's database and topic. Database: the handler's `database`, else
 * `worker.database`, else the one configured stream that names the collection. Topic: the handler's
 * `topic`, else the topic of the stream that watches the collection, else `<prefix>.<db>.<collection>`
 * (a worker-only replica need not configure streams).
 */
export function resolveHandlerRoute(
  meta: ChangeHandlerMetadata,
  label: string,
  options: HandlerOptions,
): HandlerRoute {
  const { collection } = meta;
  if (typeof collection !== 'string' || collection.length === 0) {
    throw new InvalidChangeHandlerError(
      label,
      `the collection must be a non-empty string, got ${String(collection)}`,
    );
  }
  const database = meta.database ?? options.worker.database ?? streamDatabase(collection, label, options);
  if (isExcluded(options.excludeNamespaces, { db: database, coll: collection })) {
    throw new InvalidChangeHandlerError(
      label,
      `${database}.${collection} is excluded from relaying (excludeNamespaces or the library's own collections), so no event would ever arrive`,
    );
  }
  const topic =
    meta.topic ??
    topicFor(options, database, collection) ??
    defaultTopic(options.kafka.topicPrefix, database, collection);
  return { database, collection, topic };
}

function streamDatabase(collection: string, label: string, options: Pick<HandlerOptions, 'streams'>): string {
  const databases = [
    ...new Set(options.streams.filter((s) => s.collections?.includes(collection)).map((s) => s.db)),
  ];
  if (databases.length === 1) return databases[0];
  const why =
    databases.length === 0
      ? `no configured stream names the collection "${collection}"`
      : `streams of several databases (${databases.join(', ')}) name the collection "${collection}"`;
  throw new InvalidChangeHandlerError(
    label,
    `cannot tell its database: ${why}. Set @ChangeHandler({ database }) or worker.database`,
  );
}
