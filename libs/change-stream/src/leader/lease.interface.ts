/**
 * A leader lease for one stream: at most one holder at a time while its validity lasts. Methods may
 * reject (a store outage); the LeaderElector treats any rejection as "not held".
 */
export interface Lease {
  /** Resource name (diagnostics). */
  readonly name: string;
  /** One attempt to take the lease. Resolves true when this replica now holds it. */
  acquire(): Promise<boolean>;
  /** Extends a held lease to a full TTL from now. Resolves false when it is no longer held. */
  renew(): Promise<boolean>;
  /** Gives the lease up so a standby can take it at once. Best effort. */
  release(): Promise<void>;
  /**
   * Local clock time (ms since the epoch) until which this replica may act as leader, already
   * shortened by the clock-drift allowance; 0 when not held.
   */
  readonly validUntil: number;
}
