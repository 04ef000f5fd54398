import type { ChangeStreamReport } from '../health/change-stream.inspector';
import { relayStall } from '../health/relay-stall';
import type { StreamStatus } from '../health/stream-status';
import { seconds, type MetricFactory } from './metric-factory';

/** The relay's counters: name, help, and the count of the stream's status each mirrors. */
const STREAM_COUNTERS: ReadonlyArray<[string, string, (s: StreamStatus) => number]> = [
  ['events_published_total', 'Change events published to Kafka and acknowledged.', (s) => s.eventsPublished],
  ['events_read_total', 'Change events read from the change stream by this replica.', (s) => s.eventsRead],
  [
    'publish_batches_total',
    'Kafka batches acknowledged (events_published_total / publish_batches_total = mean batch size).',
    (s) => s.batchesPublished,
  ],
  ['publish_failures_total', 'Kafka sends that failed (retried with backoff).', (s) => s.publishFailures],
  [
    'unpublishable_events_total',
    'Change events the relay could not publish (bad topic, too large): the stream stopped on them, or they were dead-lettered (relay.onUnpublishable).',
    (s) => s.unpublishableEvents,
  ],
  ['checkpoints_written_total', 'Checkpoints saved.', (s) => s.checkpointsWritten],
  ['leadership_changes_total', 'Leadership terms this replica started.', (s) => s.leaderTerms],
  [
    'relay_restarts_total',
    'Terms that failed on an error no policy covers; each backed off and campaigned again (/health: restarting).',
    (s) => s.restarts,
  ],
];

/** The relay's counters by `stream`, mirrored from each stream's RelayStats. */
export function relayCounters(m: MetricFactory): void {
  for (const [name, help, pick] of STREAM_COUNTERS) m.streamCounter(name, help, pick);
}

/** The relay's gauges by `stream`: leadership, the lease, what waits on Kafka, the checkpoint's lag. */
export function relayGauges(m: MetricFactory): void {
  const checkpointOf = (r: ChangeStreamReport, stream: string) =>
    r.checkpoints.find((c) => c.stream === stream);

  m.perStream('leader', '1 when this replica leads the stream, else 0.', (s) =>
    s.role === 'leader' ? 1 : 0,
  );
  m.perStream('epoch', 'Epoch of the current (or last) leadership term.', (s) => s.epoch);
  m.perStream('lease_valid_seconds', 'How long the held lease is still valid (leader only).', (s, r) =>
    s.role === 'leader' && s.leaseValidUntil !== null ? seconds(s.leaseValidUntil - r.at.getTime()) : null,
  );
  m.perStream('publish_batch_size', 'Events in the last batch Kafka acknowledged.', (s) => s.lastBatchSize);
  m.perStream('in_flight_events', 'Events read but not yet acknowledged by Kafka.', (s) => s.inFlightEvents);
  m.perStream(
    'publish_consecutive_failures',
    'Failed Kafka sends (and producer connections) since Kafka last acknowledged one; 0 when not leading.',
    (s) => (s.role === 'leader' ? s.consecutivePublishFailures : 0),
  );
  m.perStream(
    'publish_stalled_seconds',
    "How long the leader's unacknowledged send (or producer connection) has waited for Kafka; 0 while nothing waits. /health is DOWN above relay.maxPublishStallMs.",
    (s, r) => seconds(relayStall(s, r.at.getTime()).publishStalledMs ?? 0),
  );
  m.perStream(
    'checkpoint_pending_seconds',
    'How long the oldest event the leader read has waited for its checkpoint; 0 while the checkpoint covers all. /health is DOWN above relay.maxCheckpointLagMs.',
    (s, r) => seconds(relayStall(s, r.at.getTime()).checkpointLagMs ?? 0),
  );
  m.perStream('stopped', '1 when a policy stopped the stream (history lost, rejected pipeline).', (s) =>
    s.stoppedReason ? 1 : 0,
  );
  m.perStream(
    'checkpoint_lag_seconds',
    'Now minus the cluster time of the last checkpointed event.',
    (s, r) => {
      const time = checkpointOf(r, s.name)?.eventTime;
      return time ? seconds(r.at.getTime() - time.getTime()) : null;
    },
  );
  m.perStream('checkpoint_age_seconds', 'Time since the checkpoint was last written.', (s, r) => {
    const saved = checkpointOf(r, s.name)?.savedAt;
    return saved ? seconds(r.at.getTime() - saved.getTime()) : null;
  });
  m.perStream(
    'last_read_age_seconds',
    'Time since the leader last read from its stream (grows when stuck, not when idle).',
    (s, r) => (s.role === 'leader' && s.lastReadAt ? seconds(r.at.getTime() - s.lastReadAt.getTime()) : null),
  );
  m.perStream(
    'lag_oplog_window_ratio',
    'Checkpoint lag as a share of the oplog window (1 = history about to be lost).',
    (s, r) => {
      const time = checkpointOf(r, s.name)?.eventTime;
      if (!time || !r.oplog) return null;
      const window = r.oplog.last.getTime() - r.oplog.first.getTime();
      return window > 0 ? (r.at.getTime() - time.getTime()) / window : null;
    },
  );
}

/** The oplog window (when readable). */
export function oplogGauges(m: MetricFactory): void {
  // NOTE: label-less gauges always print a value; NaN (not 0) says "unreadable" without faking a window.
  m.gauge('oplog_first_timestamp_seconds', 'Time of the oldest oplog entry (when readable).', [], (g, r) => {
    g.set(r.oplog ? seconds(r.oplog.first.getTime()) : Number.NaN);
  });
  m.gauge('oplog_last_timestamp_seconds', 'Time of the newest oplog entry (when readable).', [], (g, r) => {
    g.set(r.oplog ? seconds(r.oplog.last.getTime()) : Number.NaN);
  });
  m.gauge('oplog_window_seconds', 'Newest minus oldest oplog entry time (when readable).', [], (g, r) => {
    g.set(r.oplog ? seconds(r.oplog.last.getTime() - r.oplog.first.getTime()) : Number.NaN);
  });
}
