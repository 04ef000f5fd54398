import { randomUUID } from 'node:crypto';
import type { Collection, Document } from 'mongodb';
import type { Lease } from './lease.interface';

/** The lease document in the library's `change_stream_leases` collection. */
export interface LeaseDocument {
  _id: string;
  /** Random per acquisition: only the holder's renew/release match it. */
  owner: string;
  /** Which replica holds it (diagnostics). */
  holder: string;
  /** Server-side expiry. */
  expiresAt: Date;
}

const MAJORITY = { writeConcern: { w: 'majority' as const } };
const DUPLICATE_KEY = 11000;
/** Allowance for the rate difference of two clocks over one TTL, as Redlock's driftFactor. */
const DRIFT_FACTOR = 0.01;

/**
 * A lease document with an expiry, for deployments without Redis. Expiry is computed by the server
 * (`$$NOW`), so replica clocks never compare absolute times; the holder's local validity counts
 * from before its request was sent, so it ends before the server's expiry.
 */
export class MongoLease implements Lease {
  private owner: string | null = null;
  private until = 0;

  constructor(
    private readonly collection: Collection<LeaseDocument>,
    readonly name: string,
    private readonly ttlMs: number,
    private readonly holder: string,
  ) {}

  get validUntil(): number {
    return this.owner ? this.until : 0;
  }

  async acquire(): Promise<boolean> {
    const owner = randomUUID();
    const held = await this.write({ _id: this.name, $expr: { $lte: ['$expiresAt', '$$NOW'] } }, owner, true);
    if (held) this.owner = owner;
    return held;
  }

  async renew(): Promise<boolean> {
    if (!this.owner) return false;
    const held = await this.write({ _id: this.name, owner: this.owner }, this.owner, false).catch((error) => {
      this.owner = null;
      throw error;
    });
    if (!held) this.owner = null;
    return held;
  }

  async release(): Promise<void> {
    const owner = this.owner;
    this.owner = null;
    if (owner) await this.collection.deleteOne({ _id: this.name, owner }, MAJORITY);
  }

  /** Sets owner and a server-side expiry where `filter` matches; the result says whether we hold it. */
  private async write(filter: Document, owner: string, upsert: boolean): Promise<boolean> {
    const start = Date.now();
    const update = [{ $set: { owner, holder: this.holder, expiresAt: { $add: ['$$NOW', this.ttlMs] } } }];
    try {
      const result = await this.collection.updateOne(filter, update, { upsert, ...MAJORITY });
      if (result.matchedCount + result.upsertedCount === 0) return false;
    } catch (error) {
      // NOTE: an upsert that finds the document held by another replica collides on _id: not ours.
      if ((error as { code?: number }).code === DUPLICATE_KEY) return false;
      throw error;
    }
    this.until = start + this.ttlMs - Math.round(this.ttlMs * DRIFT_FACTOR) - 2;
    return true;
  }
}
