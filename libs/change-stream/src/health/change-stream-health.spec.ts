import { assessHealth } from './change-stream-health';
import type { ChangeStreamReport } from './change-stream.inspector';
import { newStreamStatus, type StreamStatus } from './stream-status';

const AT = new Date('2026-01-01T00:00:10Z');
const ROLES = { relay: true, worker: true };

function stream(overrides: Partial<StreamStatus> = {}): StreamStatus {
  return {
    ...newStreamStatus('shop.orders'),
    role: 'leader',
    leaseValidUntil: AT.getTime() + 5_000,
    epoch: 3,
    lastReadAt: new Date(AT.getTime() - 200),
    leaderTerms: 1,
    ...overrides,
  };
}

function report(
  streams: StreamStatus[],
  workerState: 'running' | 'draining' = 'running',
): ChangeStreamReport {
  return {
    at: AT,
    relay: { enabled: true, instanceId: 'host-1-abc', healthy: true, streams },
    worker: {
      state: workerState,
      groupId: 'g',
      topics: ['cdc.shop.orders'],
      assignment: { 'cdc.shop.orders': [0, 1] },
      completedMessages: 0,
      sharedMessages: 0,
      sharedFallBacks: 0,
      deadLetters: [],
      restart: null,
      restarts: 0,
    },
    checkpoints: [
      {
        stream: 'shop.orders',
        epoch: 3,
        leader: 'host-1-abc',
        eventTime: new Date(AT.getTime() - 4_000),
        savedAt: new Date(AT.getTime() - 1_000),
      },
    ],
    oplog: { first: new Date(AT.getTime() - 3_600_000), last: AT },
  };
}

describe('assessHealth', () => {
  it('reports a working leader UP with lease validity, lag, checkpoint age and worker state', () => {
    const health = assessHealth(report([stream()]), ROLES);
    expect(health).toMatchObject({
      up: true,
      problems: [],
      leadership: 'leader',
      streams: [
        {
          role: 'leader',
          epoch: 3,
          leaseValidForMs: 5_000,
          lagMs: 4_000,
          lastReadAgoMs: 200,
          checkpointAgeMs: 1_000,
        },
      ],
      worker: { state: 'running', assignedPartitions: 2 },
      oplogWindowMs: 3_600_000,
    });
  });

  it('reports a standby UP, with the lag read from the shared checkpoint', () => {
    const health = assessHealth(
      report([stream({ role: 'standby', leaseValidUntil: null, lastReadAt: null })]),
      ROLES,
    );
    expect(health).toMatchObject({
      up: true,
      leadership: 'standby',
      streams: [{ leaseValidForMs: null, lagMs: 4_000 }],
    });
  });

  it('is DOWN when a policy stopped the stream (history lost)', () => {
    const stopped = stream({
      role: 'stopped',
      stoppedReason: 'change stream history lost (ChangeStreamHistoryLost)',
    });
    const health = assessHealth(report([stopped]), ROLES);
    expect(health.up).toBe(false);
    expect(health.problems).toEqual([
      'stream "shop.orders" stopped: change stream history lost (ChangeStreamHistoryLost)',
    ]);
  });

  it('is DOWN when a leader is stuck: expired lease, no read for too long, checkpoint too old', () => {
    const stuck = stream({ leaseValidUntil: AT.getTime() - 1, lastReadAt: new Date(AT.getTime() - 61_000) });
    const health = assessHealth(report([stuck]), ROLES, { maxCheckpointAgeMs: 500 });
    expect(health.problems).toEqual([
      'stream "shop.orders": leader with an expired lease',
      'stream "shop.orders": nothing read for 61000 ms',
      'stream "shop.orders": checkpoint 1000 ms old',
    ]);
  });

  it('is DOWN while the worker drains', () => {
    expect(assessHealth(report([stream()], 'draining'), ROLES)).toMatchObject({
      up: false,
      problems: ['worker draining'],
    });
  });

  it('says off when the relay role is disabled', () => {
    expect(assessHealth(report([]), { relay: false, worker: true })).toMatchObject({
      up: true,
      leadership: 'off',
      streams: [],
    });
  });
});

describe('assessHealth: publish stall and checkpoint lag', () => {
  const thresholds = { maxPublishStallMs: 15_000, maxCheckpointLagMs: 30_000 };
  const ago = (ms: number) => new Date(AT.getTime() - ms);

  it('is DOWN when a send has waited longer than maxPublishStallMs, naming since when and the failures', () => {
    const stalled = stream({
      publishWaitingSince: ago(20_000),
      consecutivePublishFailures: 7,
      checkpointPendingSince: ago(20_000),
    });
    const health = assessHealth(report([stalled]), ROLES, thresholds);
    expect(health.up).toBe(false);
    expect(health.problems).toEqual([
      `stream "shop.orders": publish stalled since ${ago(20_000).toISOString()} (20 s, 7 consecutive failures)`,
    ]);
    expect(health.streams[0]).toMatchObject({ publishStalledMs: 20_000, consecutivePublishFailures: 7 });
  });

  it('is DOWN when the checkpoint lags what was read by more than maxCheckpointLagMs', () => {
    const lagging = stream({ checkpointPendingSince: ago(39_000) });
    const health = assessHealth(report([lagging]), ROLES, thresholds);
    expect(health.problems).toEqual(['stream "shop.orders": checkpoint lag 39 s (limit 30 s)']);
    expect(health.streams[0]).toMatchObject({ checkpointLagMs: 39_000 });
  });

  it('stays UP while a send is slow but within the limit, and back UP once it was acknowledged', () => {
    const slow = stream({ publishWaitingSince: ago(14_000), consecutivePublishFailures: 2 });
    expect(assessHealth(report([slow]), ROLES, thresholds).up).toBe(true);
    const recovered = stream({ publishWaitingSince: null, consecutivePublishFailures: 0 });
    expect(assessHealth(report([recovered]), ROLES, thresholds).up).toBe(true);
  });

  it('keeps an idle leader UP: nothing waits to be published or checkpointed, however long ago the last event', () => {
    const idle = stream({
      lastPublishedAt: ago(3_600_000),
      publishWaitingSince: null,
      checkpointPendingSince: null,
    });
    expect(assessHealth(report([idle]), ROLES, thresholds)).toMatchObject({ up: true, problems: [] });
  });

  it('ignores a standby (its last term’s figures are reset)', () => {
    const standby = stream({ role: 'standby', leaseValidUntil: null, publishWaitingSince: ago(60_000) });
    expect(assessHealth(report([standby]), ROLES, thresholds).up).toBe(true);
  });
});
