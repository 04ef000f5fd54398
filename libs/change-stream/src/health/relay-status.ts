import { Injectable } from '@nestjs/common';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { RelayStats } from './relay-stats';
import type { StreamStatus } from './stream-status';

/** A snapshot of this replica's relay role. */
export interface RelayStatus {
  /** False when the module runs with `relay: false`. */
  enabled: boolean;
  /** This replica's id in leases and checkpoints (`<host>-<pid>-<random>`). */
  instanceId: string;
  /** False when any stream was stopped by policy. */
  healthy: boolean;
  streams: StreamStatus[];
}

/** @deprecated Renamed {@link RelayStatus}; this alias goes in the next minor version. */
export type ListenerStatus = RelayStatus;

/**
 * The relay's state: each stream's relay records into its `RelayStats`; the health
 * indicator and metrics read `snapshot()`. Injectable; one per module.
 */
@Injectable()
export class ChangeStreamStatus {
  /** This replica's id, written into leases and checkpoints. */
  readonly instanceId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly streams = new Map<string, RelayStats>();
  private enabled = false;

  /** A copy of the current state. */
  snapshot(): RelayStatus {
    const streams = [...this.streams.values()].map((stats) => stats.snapshot());
    return {
      enabled: this.enabled,
      instanceId: this.instanceId,
      healthy: streams.every((s) => !s.stoppedReason),
      streams,
    };
  }

  /** @internal Where one stream's relay records what it does (created on first use). */
  stream(name: string): RelayStats {
    this.enabled = true;
    let stats = this.streams.get(name);
    if (!stats) {
      stats = new RelayStats(name);
      this.streams.set(name, stats);
    }
    return stats;
  }
}
