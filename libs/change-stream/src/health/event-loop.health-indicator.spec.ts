import { HealthIndicatorService } from '@nestjs/terminus';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import { DEFAULTS } from '../options/defaults';
import { waitFor } from '../../../../test/support/wait';
import { ChangeStreamHealthModule } from './change-stream-health.module';
import { EventLoopHealthIndicator } from './event-loop.health-indicator';

/** Holds the event loop for `ms` (a synchronous busy wait: nothing else can run meanwhile). */
function blockLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy: the point is that no timer, I/O callback or request can run
  }
}

describe('EventLoopHealthIndicator (liveness)', () => {
  let indicator: EventLoopHealthIndicator | undefined;
  afterEach(() => indicator?.onModuleDestroy());

  const start = (maxEventLoopDelayMs?: number) => {
    indicator = new EventLoopHealthIndicator(
      new HealthIndicatorService(),
      maxEventLoopDelayMs === undefined ? {} : { maxEventLoopDelayMs },
    );
    indicator.onModuleInit();
    return indicator;
  };

  it('is UP while the loop turns, reporting the worst delay and the limit', async () => {
    const live = start(500);
    const result = (await live.isLive()).eventLoop;
    expect(result).toMatchObject({ status: 'up', limitMs: 500 });
    expect(result.maxDelayMs).toBeLessThan(500);
  });

  it('is DOWN after the loop was blocked longer than maxEventLoopDelayMs, naming how long', async () => {
    const live = start(100);
    // NOTE: the delay monitor's first tick only starts its clock: block once it has measured a turn.
    await waitFor(() => live.isLive('loop').loop.maxDelayMs > 0, { what: 'a first measured turn' });
    blockLoop(400);
    // The monitor's timer records the delay on its next turn. NOTE: on a loaded machine an earlier,
    // shorter delay (over the 100 ms limit) may already read 'down': wait for the block's own.
    const result = await waitFor(async () => {
      const loop = (await live.isLive('loop')).loop;
      return loop.status === 'down' && loop.maxDelayMs >= 300 ? loop : null;
    });
    expect(result).toMatchObject({ status: 'down', limitMs: 100 });
    expect(result.problems).toEqual([
      expect.stringMatching(/^event loop blocked for \d+ ms \(limit 100 ms\)$/),
    ]);
  });

  it('defaults the limit from DEFAULTS.health', async () => {
    const live = start();
    expect((await live.isLive()).eventLoop.limitMs).toBe(DEFAULTS.health.maxEventLoopDelayMs);
  });

  it('refuses a limit that is not a positive number of ms, naming the option', () => {
    expect(() => start(0)).toThrow(InvalidOptionsError);
    expect(() => start(Number.NaN)).toThrow(/maxEventLoopDelayMs/);
  });

  it('ChangeStreamHealthModule.forRoot refuses bad thresholds and unknown keys at start-up', () => {
    expect(() => ChangeStreamHealthModule.forRoot({ maxReadSilenceMs: -1 })).toThrow(/"maxReadSilenceMs"/);
    expect(() => ChangeStreamHealthModule.forRoot({ maxEventLoopDelayMs: 0 })).toThrow(InvalidOptionsError);
    expect(() => ChangeStreamHealthModule.forRoot({ maxEventLoopDelay: 5 } as never)).toThrow(
      /"maxEventLoopDelay"/,
    );
    expect(() => ChangeStreamHealthModule.forRoot({ maxEventLoopDelayMs: 2_000 })).not.toThrow();
  });
});
