import type { MongoClient } from 'mongodb';
import Redlock from 'redlock';
import type { ChangeStreamConnections } from '../connections/change-stream-connections';
import type { ResolvedChangeStreamOptions } from '../interfaces/change-stream-options.interface';
import type { Lease } from './lease.interface';
import { MongoLease, type LeaseDocument } from './mongo.lease';
import { RedlockLease } from './redlock.lease';

/** Creates the lease of each stream from the configured store. One Redlock instance serves every stream. */
export class LeaseFactory {
  private redlock?: Redlock;

  constructor(
    private readonly options: ResolvedChangeStreamOptions,
    private readonly connections: ChangeStreamConnections,
    private readonly client: MongoClient,
    private readonly instanceId: string,
  ) {}

  create(stream: string): Lease {
    const { lease, storage } = this.options;
    if (lease.store === 'mongo') {
      const collection = this.client.db(storage.database).collection<LeaseDocument>(storage.leases);
      return new MongoLease(collection, stream, lease.ttlMs, this.instanceId);
    }
    // NOTE: redlock's own retries are off; the elector retries with jitter on its own schedule.
    this.redlock ??= new Redlock(this.connections.redis(), { retryCount: 0, driftFactor: 0.01 });
    return new RedlockLease(this.redlock, `${lease.keyPrefix}:${stream}`, lease.ttlMs);
  }
}
