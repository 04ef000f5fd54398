import { assessReadiness } from './change-stream-readiness';
import type { ChangeStreamReport } from './change-stream.inspector';
import { newStreamStatus, type StreamStatus } from './stream-status';

type Statuses = Pick<ChangeStreamReport, 'relay' | 'worker'>;
const BOTH = { relay: true, worker: true };

function statuses(streams: Array<Partial<StreamStatus>>, workerState = 'running'): Statuses {
  return {
    relay: {
      enabled: true,
      instanceId: 'host-1-abc',
      healthy: streams.every((s) => !s.stoppedReason),
      streams: streams.map((s) => ({ ...newStreamStatus('shop.orders'), ...s })),
    },
    worker: {
      state: workerState as 'running',
      groupId: 'g',
      topics: ['cdc.shop.orders'],
      assignment: {},
      completedMessages: 0,
      sharedMessages: 0,
      sharedFallBacks: 0,
      deadLetters: [],
      restart: null,
      restarts: 0,
    },
  };
}

describe('assessReadiness', () => {
  it('needs nothing by default: ready whatever the stream and the worker do', () => {
    const stopped = statuses([{ role: 'stopped', stoppedReason: 'history lost' }], 'stopped');
    expect(assessReadiness(stopped, BOTH, [])).toEqual({ ready: true, needs: [], problems: [] });
  });

  it('with the relay needed: ready as leader or standby, also while a send waits on Kafka', () => {
    const waiting = {
      role: 'leader' as const,
      publishWaitingSince: new Date(0),
      consecutivePublishFailures: 9,
    };
    expect(assessReadiness(statuses([waiting, { role: 'standby' }]), BOTH, ['relay']).ready).toBe(true);
  });

  it('with the relay needed: not ready when a policy stopped a stream, or before it started', () => {
    const result = assessReadiness(
      statuses([
        { role: 'stopped', stoppedReason: 'history lost at mongodb://u:secret@h/' },
        { role: 'starting' },
      ]),
      BOTH,
      ['relay'],
    );
    expect(result.ready).toBe(false);
    expect(result.problems).toEqual([
      expect.stringMatching(/^stream "shop.orders" stopped: history lost at mongodb:\/\/<credentials>@h\/$/),
      'stream "shop.orders" not started',
    ]);
  });

  it('with the worker needed: ready only while it runs in its group', () => {
    expect(assessReadiness(statuses([]), BOTH, ['worker']).ready).toBe(true);
    for (const state of ['starting', 'draining', 'stopped']) {
      expect(assessReadiness(statuses([], state), BOTH, ['worker'])).toEqual({
        ready: false,
        needs: ['worker'],
        problems: [`worker ${state}`],
      });
    }
  });

  it('is not ready when it needs a role this replica does not run', () => {
    const workerOnly = { ...statuses([]), worker: null };
    expect(assessReadiness(workerOnly, { relay: true, worker: false }, ['worker']).problems).toEqual([
      'worker role is off in this replica',
    ]);
    expect(assessReadiness(statuses([]), { relay: false, worker: true }, ['relay']).problems).toEqual([
      'relay role is off in this replica',
    ]);
  });

  it('still accepts the needs by their old names (listener, consumer) for one minor version', () => {
    const workerOnly = { ...statuses([]), worker: null };
    expect(assessReadiness(workerOnly, { relay: false, worker: false }, ['listener', 'consumer'])).toEqual({
      ready: false,
      needs: ['relay', 'worker'],
      problems: ['relay role is off in this replica', 'worker role is off in this replica'],
    });
  });
});
