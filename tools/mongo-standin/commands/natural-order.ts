/**
 * Where a find reads in storage order: `$natural` sorts, and `local.oplog.rs`, which the stand-in
 * serves from the change-stream engine's retained oplog (mongod's capped collection).
 */
import type { Document } from 'bson';
import { collectionNameOf, type CommandContext } from './context';

/** `local.oplog.rs`: served from the change-stream engine's retained oplog, as mongod's capped collection. */
export const isOplog = (context: CommandContext) =>
  context.db === 'local' && collectionNameOf(context) === 'oplog.rs';

/**
 * A `$natural` sort is the storage order (insertion order here; for the oplog, time order):
 * the documents as read, or reversed for -1. Other sort keys stay for the query engine.
 */
export function naturalOrder(
  docs: Document[],
  sort: Document | undefined,
): [Document[], Document | undefined] {
  if (!sort || !('$natural' in sort)) return [docs, sort];
  const { $natural: direction, ...rest } = sort;
  return [Number(direction) < 0 ? [...docs].reverse() : docs, Object.keys(rest).length ? rest : undefined];
}
