import { Logger } from '@nestjs/common';
import { MESSAGES } from '../change-stream.messages';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import type { ChangeStreamModuleOptions } from '../interfaces/change-stream-options.interface';
import { logDeprecations, resolveBackoff, resolveRetryPolicy } from './backoff';
import { DEFAULTS, WORKER_DEFAULTS } from './defaults';
import { resolveOptions } from './resolve-options';
import { validateWorkerOptions } from './worker';

const base = (): ChangeStreamModuleOptions => ({
  mongo: { uri: 'mongodb://localhost:27017/?replicaSet=rs0' },
  kafka: { brokers: ['localhost:9092'] },
  streams: [{ db: 'shop', collection: 'orders' }],
});

describe('one backoff shape: { initialDelayMs, maxDelayMs, factor }', () => {
  it('is the shape of every backoff default', () => {
    const shape = ['factor', 'initialDelayMs', 'maxDelayMs'];
    expect(Object.keys(DEFAULTS.relay.backoff).sort()).toEqual(shape);
    expect(Object.keys(WORKER_DEFAULTS.restartBackoff).sort()).toEqual(shape);
    expect(Object.keys(WORKER_DEFAULTS.retry).sort()).toEqual(['attempts', ...shape]);
  });

  it('resolves relay.backoff and worker.restartBackoff over their defaults', () => {
    const resolved = resolveOptions({
      ...base(),
      relay: { backoff: { initialDelayMs: 50, factor: 3 } },
      worker: { restartBackoff: { maxDelayMs: 5_000 } },
    });
    expect(resolved.relay.backoff).toEqual({ initialDelayMs: 50, maxDelayMs: 30_000, factor: 3 });
    expect(resolved.worker.restartBackoff).toEqual({ initialDelayMs: 1_000, maxDelayMs: 5_000, factor: 2 });
    expect(validateWorkerOptions({}).restartBackoff).toEqual(WORKER_DEFAULTS.restartBackoff);
  });

  it.each([
    [{ relay: { backoff: { initialDelayMs: 0 } } }, 'relay.backoff.initialDelayMs'],
    [{ relay: { backoff: { factor: 0.5 } } }, 'relay.backoff.factor'],
    [
      { worker: { restartBackoff: { initialDelayMs: 500, maxDelayMs: 100 } } },
      'worker.restartBackoff.maxDelayMs',
    ],
    [{ worker: { restartBackoff: { initial: 5 } } }, 'worker.restartBackoff.initial'],
    [{ worker: { restartBackoff: { initialMs: 0 } } }, 'worker.restartBackoff.initialMs'],
  ])('refuses %j naming %s', (patch, option) => {
    expect(() => resolveOptions({ ...base(), ...(patch as object) }, () => undefined)).toThrow(
      expect.objectContaining({ option }),
    );
  });

  it('accepts the old keys initialMs / maxMs, telling which new key replaces each', () => {
    const told: Array<[string, string]> = [];
    const resolved = resolveOptions(
      {
        ...base(),
        relay: { backoff: { initialMs: 200, maxMs: 2_000 } },
        worker: { restartBackoff: { initialMs: 300 } },
      },
      (old, replacement) => told.push([old, replacement]),
    );
    expect(resolved.relay.backoff).toEqual({ initialDelayMs: 200, maxDelayMs: 2_000, factor: 2 });
    expect(resolved.worker.restartBackoff).toEqual({ initialDelayMs: 300, maxDelayMs: 30_000, factor: 2 });
    expect(told).toEqual([
      ['relay.backoff.initialMs', 'relay.backoff.initialDelayMs'],
      ['relay.backoff.maxMs', 'relay.backoff.maxDelayMs'],
      ['worker.restartBackoff.initialMs', 'worker.restartBackoff.initialDelayMs'],
    ]);
  });

  it('refuses both spellings of one field', () => {
    expect(() =>
      resolveBackoff(
        { initialMs: 1, initialDelayMs: 2 },
        'relay.backoff',
        DEFAULTS.relay.backoff,
        () => undefined,
      ),
    ).toThrow(InvalidOptionsError);
  });
});

describe('one backoff shape: deprecated keys and retry', () => {
  it('logs each deprecated key once per start-up, naming the old and the new key', () => {
    const logger = { warn: jest.fn() };
    const sink = logDeprecations(logger);
    const options = { ...base(), relay: { backoff: { initialMs: 200 } } };
    resolveOptions(options, sink);
    sink('relay.backoff.initialMs', 'relay.backoff.initialDelayMs');
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn).toHaveBeenCalledWith(
      MESSAGES.deprecatedOption('relay.backoff.initialMs', 'relay.backoff.initialDelayMs'),
    );
    expect(logger.warn.mock.calls[0][0]).toMatch(
      /"relay\.backoff\.initialMs".*"relay\.backoff\.initialDelayMs"/,
    );
  });

  it('warns through the Nest logger by default, and not at all for the new keys', () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      resolveOptions({ ...base(), relay: { backoff: { initialDelayMs: 200 } } });
      expect(warn).not.toHaveBeenCalled();
      resolveOptions({ ...base(), worker: { restartBackoff: { maxMs: 9_000 } } });
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0][0]).toContain('worker.restartBackoff.maxDelayMs');
    } finally {
      warn.mockRestore();
    }
  });

  it('keeps the handler retry shape, without the old keys (they never were retry keys)', () => {
    expect(resolveRetryPolicy({ initialDelayMs: 0 }, WORKER_DEFAULTS.retry, 'retry')).toEqual({
      ...WORKER_DEFAULTS.retry,
      initialDelayMs: 0,
    });
    expect(() => resolveRetryPolicy({ initialMs: 5 } as never, WORKER_DEFAULTS.retry, 'retry')).toThrow(
      expect.objectContaining({ option: 'retry.initialMs' }),
    );
  });
});
