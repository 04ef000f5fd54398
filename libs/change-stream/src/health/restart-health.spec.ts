/**
 * /health names a part that gave up and is being brought back (a Kafka consumer kafkajs gave up on, a
 * relay whose term failed on an error no policy covers), and is DOWN while it is down.
 */
import { assessHealth } from './change-stream-health';
import type { ChangeStreamReport } from './change-stream.inspector';
import { newStreamStatus, type StreamStatus } from './stream-status';
import type { WorkerStatus } from '../worker/worker-status';

const AT = new Date('2026-01-01T00:00:10Z');
const SINCE = new Date('2026-01-01T00:00:04Z');
const ROLES = { relay: true, worker: true };

function report(stream: Partial<StreamStatus>, worker: Partial<WorkerStatus>): ChangeStreamReport {
  return {
    at: AT,
    relay: {
      enabled: true,
      instanceId: 'host-1-abc',
      healthy: true,
      streams: [{ ...newStreamStatus('shop.orders'), role: 'standby', ...stream }],
    },
    worker: {
      state: 'running',
      groupId: 'g',
      topics: ['cdc.shop.orders'],
      assignment: {},
      completedMessages: 0,
      sharedMessages: 0,
      sharedFallBacks: 0,
      deadLetters: [],
      restart: null,
      restarts: 0,
      ...worker,
    },
    checkpoints: [],
    oplog: null,
  };
}

describe('assessHealth of parts being restarted', () => {
  it('is DOWN while the worker is restarting, naming the reason, the attempt and since when', () => {
    const health = assessHealth(
      report(
        {},
        {
          state: 'restarting',
          restart: { reason: 'KafkaJSNonRetriableError: mongodb://u:pw@h/ down', attempt: 3, since: SINCE },
          restarts: 2,
        },
      ),
      ROLES,
    );
    expect(health.up).toBe(false);
    expect(health.problems).toEqual([
      'worker restarting since 2026-01-01T00:00:04.000Z (6 s, attempt 3): KafkaJSNonRetriableError: mongodb://<credentials>@h/ down',
    ]);
    expect(health.worker).toMatchObject({
      state: 'restarting',
      restart: { reason: expect.stringContaining('<credentials>'), attempt: 3, downForMs: 6_000 },
    });
  });

  it('is DOWN while a stream is restarting after a failed term, and UP again once it campaigns', () => {
    const restart = {
      reason: 'TypeError: boom',
      attempt: 1,
      since: SINCE,
      retryAt: new Date(AT.getTime() + 300),
    };
    const down = assessHealth(report({ role: 'restarting', restart }, {}), ROLES);
    expect(down.up).toBe(false);
    expect(down.problems).toEqual([
      'stream "shop.orders" restarting since 2026-01-01T00:00:04.000Z (6 s, attempt 1): TypeError: boom',
    ]);
    expect(down.streams[0]).toMatchObject({
      role: 'restarting',
      restart: { reason: 'TypeError: boom', attempt: 1, downForMs: 6_000 },
    });
    const up = assessHealth(report({ role: 'standby', restart: null, restarts: 1 }, {}), ROLES);
    expect(up).toMatchObject({ up: true, problems: [] });
    expect(up.streams[0].restart).toBeNull();
  });
});
