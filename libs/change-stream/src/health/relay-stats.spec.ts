import { ChangeStreamStatus } from './relay-status';
import { RelayStats } from './relay-stats';

describe('RelayStats', () => {
  it('hands out copies: a snapshot does not change as the relay records more', () => {
    const stats = new RelayStats('shop.orders');
    stats.elected(1_000);
    const before = stats.snapshot();
    stats.termStarted(3);
    stats.published(2, Date.now());
    expect(before).toMatchObject({ role: 'leader', epoch: null, eventsPublished: 0 });
    expect(stats.snapshot()).toMatchObject({ role: 'leader', epoch: 3, leaderTerms: 1, eventsPublished: 2 });
  });

  it('counts failed producer connections as a publish wait from the first one, cleared once connected', () => {
    const stats = new RelayStats('s');
    const first = new Date(1_000);
    stats.producerConnectFailed(new Error('no brokers'), first);
    stats.producerConnectFailed(new Error('no brokers'), new Date(2_000));
    expect(stats.snapshot()).toMatchObject({
      publishWaitingSince: first,
      consecutivePublishFailures: 2,
      lastError: { message: 'no brokers' },
    });
    stats.producerConnected();
    expect(stats.snapshot()).toMatchObject({ publishWaitingSince: null, consecutivePublishFailures: 0 });
  });

  it('keeps the checkpoint lag from the oldest acknowledged event until a checkpoint covers it', () => {
    const stats = new RelayStats('s');
    stats.inFlight(2, 20, 1_000);
    stats.published(2, 1_000);
    stats.inFlight(1, 10, 5_000); // acknowledged, not yet checkpointed: the lag still starts at 1 000
    expect(stats.snapshot().checkpointPendingSince).toEqual(new Date(1_000));
    stats.checkpointed(5_000);
    expect(stats.snapshot()).toMatchObject({
      checkpointPendingSince: new Date(5_000),
      checkpointsWritten: 1,
    });
    stats.sessionEnded();
    expect(stats.snapshot().checkpointPendingSince).toBeNull();
  });

  it('says restarting until resumed, and a stop by policy outlasts a graceful stop', () => {
    const stats = new RelayStats('s');
    stats.restarting({ reason: 'boom', attempt: 1, since: new Date(), delayMs: 500 });
    expect(stats.snapshot()).toMatchObject({ role: 'restarting', restarts: 1, restart: { attempt: 1 } });
    stats.resumed();
    expect(stats.snapshot()).toMatchObject({ role: 'standby', restart: null });
    stats.stoppedByPolicy('history lost');
    stats.shutDown();
    expect(stats.snapshot()).toMatchObject({ role: 'stopped', stoppedReason: 'history lost' });
  });

  it('is what ChangeStreamStatus reports for its stream', () => {
    const status = new ChangeStreamStatus();
    status.stream('s').stoppedByPolicy('refused');
    expect(status.snapshot()).toMatchObject({
      enabled: true,
      healthy: false,
      streams: [{ name: 's', role: 'stopped' }],
    });
  });
});
