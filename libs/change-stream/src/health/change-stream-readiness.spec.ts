import { assessReadiness } from './change-stream-readiness';
import type { ChangeStreamReport } from './change-stream.inspector';
import { newStreamStatus, type StreamStatus } from './listener-status';

type Statuses = Pick<ChangeStreamReport, 'listener' | 'consumer'>;
const BOTH = { listener: true, consumer: true };

function statuses(streams: Array<Partial<StreamStatus>>, consumerState = 'running'): Statuses {
  return {
    listener: {
      enabled: true,
      instanceId: 'host-1-abc',
      healthy: streams.every((s) => !s.stoppedReason),
      streams: streams.map((s) => ({ ...newStreamStatus('shop.orders'), ...s })),
    },
    consumer: {
      state: consumerState as 'running',
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
  it('needs nothing by default: ready whatever the stream and the consumer do', () => {
    const stopped = statuses([{ role: 'stopped', stoppedReason: 'history lost' }], 'stopped');
    expect(assessReadiness(stopped, BOTH, [])).toEqual({ ready: true, needs: [], problems: [] });
  });

  it('with the listener needed: ready as leader or standby, also while a send waits on Kafka', () => {
    const waiting = {
      role: 'leader' as const,
      publishWaitingSince: new Date(0),
      consecutivePublishFailures: 9,
    };
    expect(assessReadiness(statuses([waiting, { role: 'standby' }]), BOTH, ['listener']).ready).toBe(true);
  });

  it('with the listener needed: not ready when a policy stopped a stream, or before it started', () => {
    const result = assessReadiness(
      statuses([
        { role: 'stopped', stoppedReason: 'history lost at mongodb://u:secret@h/' },
        { role: 'starting' },
      ]),
      BOTH,
      ['listener'],
    );
    expect(result.ready).toBe(false);
    expect(result.problems).toEqual([
      expect.stringMatching(/^stream "shop.orders" stopped: history lost at mongodb:\/\/<credentials>@h\/$/),
      'stream "shop.orders" not started',
    ]);
  });

  it('with the consumer needed: ready only while it runs in its group', () => {
    expect(assessReadiness(statuses([]), BOTH, ['consumer']).ready).toBe(true);
    for (const state of ['starting', 'draining', 'stopped']) {
      expect(assessReadiness(statuses([], state), BOTH, ['consumer'])).toEqual({
        ready: false,
        needs: ['consumer'],
        problems: [`consumer ${state}`],
      });
    }
  });

  it('is not ready when it needs a role this replica does not run', () => {
    const workerOnly = { ...statuses([]), consumer: null };
    expect(assessReadiness(workerOnly, { listener: true, consumer: false }, ['consumer']).problems).toEqual([
      'consumer role is off in this replica',
    ]);
    expect(assessReadiness(statuses([]), { listener: false, consumer: true }, ['listener']).problems).toEqual(
      ['listener role is off in this replica'],
    );
  });
});
