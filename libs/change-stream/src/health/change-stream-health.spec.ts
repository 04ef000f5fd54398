import { assessHealth } from './change-stream-health';
import type { ChangeStreamReport } from './change-stream.inspector';
import { newStreamStatus, type StreamStatus } from './listener-status';

const AT = new Date('2026-01-01T00:00:10Z');
const ROLES = { listener: true, consumer: true };

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
  consumerState: 'running' | 'draining' = 'running',
): ChangeStreamReport {
  return {
    at: AT,
    listener: { enabled: true, instanceId: 'host-1-abc', healthy: true, streams },
    consumer: {
      state: consumerState,
      groupId: 'g',
      topics: ['cdc.shop.orders'],
      assignment: { 'cdc.shop.orders': [0, 1] },
      completedMessages: 0,
      sharedMessages: 0,
      sharedFallBacks: 0,
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
  it('reports a working leader UP with lease validity, lag, checkpoint age and consumer state', () => {
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
      consumer: { state: 'running', assignedPartitions: 2 },
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

  it('is DOWN while the consumer drains', () => {
    expect(assessHealth(report([stream()], 'draining'), ROLES)).toMatchObject({
      up: false,
      problems: ['consumer draining'],
    });
  });

  it('says off when the listener role is disabled', () => {
    expect(assessHealth(report([]), { listener: false, consumer: true })).toMatchObject({
      up: true,
      leadership: 'off',
      streams: [],
    });
  });
});
