/**
 * Document write locks, as WiredTiger's uncommitted updates act for mongod: a transaction's write
 * to a document (its `_id`), to a unique index key, or its creation of a namespace holds that
 * resource until the transaction commits or aborts. Another transaction writing it gets a
 * WriteConflict at once (mongod does not retry inside a transaction); a write outside a transaction
 * waits until the holder ends (mongod retries its write conflict until then, up to maxTimeMS).
 */
import type { Document } from 'bson';
import { ErrorCodes, serverError } from '../errors/server-error';
import { ErrorLabel } from '../errors/labels';
import type { Collection } from './collection';

/** A lock holder: an open transaction. */
export interface LockOwner {
  readonly state: 'inProgress' | 'committed' | 'aborted';
  /** When it started (ms since the epoch): it is aborted past the transaction lifetime limit. */
  readonly startedAt: number;
  /** Settles when the owner commits or aborts (its locks are released then). */
  readonly ended: Promise<void>;
}

/** Thrown by a write outside a transaction that must wait for `holder` to end, then run again. */
export class WriteBlocked extends Error {
  constructor(readonly holder: LockOwner) {
    super('write blocked by an open transaction');
    this.name = 'WriteBlocked';
  }
}

export class WriteLocks {
  private readonly holders = new Map<string, LockOwner>();

  /** The open transaction other than `self` holding one of the resources, if any. */
  holderOf(resources: Iterable<string>, self?: LockOwner): LockOwner | undefined {
    for (const resource of resources) {
      const holder = this.holders.get(resource);
      if (holder && holder !== self && holder.state === 'inProgress') return holder;
    }
    return undefined;
  }

  /** Throws {@link WriteBlocked} when an open transaction holds one of the resources. */
  checkUnheld(resources: Iterable<string>): void {
    const holder = this.holderOf(resources);
    if (holder) throw new WriteBlocked(holder);
  }

  acquire(owner: LockOwner, resources: Iterable<string>): void {
    for (const resource of resources) this.holders.set(resource, owner);
  }

  release(owner: LockOwner, resources: Iterable<string>): void {
    for (const resource of resources) if (this.holders.get(resource) === owner) this.holders.delete(resource);
  }
}

/**
 * What writing a document from `before` to `after` touches: the document itself and, per unique
 * index, the keys it removes and adds (non-unique index entries include the record id, so they
 * never conflict in WiredTiger).
 */
export function documentResources(
  collection: Collection,
  idKey: string,
  before: Document | undefined,
  after: Document | undefined,
): string[] {
  const uuid = collection.uuid.toString('hex');
  const resources = [`${uuid}/_id/${idKey}`];
  for (const index of collection.data.indexes) {
    if (!index.unique || index.name === '_id_') continue;
    for (const doc of [before, after]) {
      if (doc) for (const { key } of index.keysOf(doc)) resources.push(`${uuid}/${index.name}/${key}`);
    }
  }
  return resources;
}

/** The resource a transaction holds while it creates a namespace. */
export const namespaceResource = (db: string, name: string) => `ns/${db}.${name}`;

/** mongod's error for a write conflict inside a transaction (TransientTransactionError). */
export const writeConflict = () =>
  serverError(
    ErrorCodes.WriteConflict,
    'Write conflict during plan execution and yielding is disabled. :: Please retry your operation or multi-document transaction.',
    [ErrorLabel.TransientTransactionError],
  );
