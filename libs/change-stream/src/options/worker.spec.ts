import { InvalidOptionsError } from '../errors/invalid-options.error';
import { resolveRetryPolicy } from './backoff';
import { WORKER_DEFAULTS } from './defaults';
import { validateWorkerOptions } from './worker';

describe('validateWorkerOptions', () => {
  it('applies every default when the section is missing', () => {
    expect(validateWorkerOptions(undefined)).toEqual({ ...WORKER_DEFAULTS, kafka: {} });
    expect(WORKER_DEFAULTS).toMatchObject({
      groupId: 'change-stream-workers',
      deadLetterSuffix: '.dlq',
      retry: { attempts: 5, initialDelayMs: 500, maxDelayMs: 30_000, factor: 2 },
      transaction: true,
    });
  });

  it('merges a partial retry policy over the defaults and passes kafka settings through', () => {
    const resolved = validateWorkerOptions({
      groupId: 'orders',
      database: 'shop',
      retry: { attempts: 2 },
      kafka: { sessionTimeout: 6000, maxWaitTimeInMs: 100 },
    });
    expect(resolved.retry).toEqual({ ...WORKER_DEFAULTS.retry, attempts: 2 });
    expect(resolved.kafka).toEqual({ sessionTimeout: 6000, maxWaitTimeInMs: 100 });
    expect(resolved).toMatchObject({ groupId: 'orders', database: 'shop' });
  });

  it.each([
    [{ groupId: '' }, 'worker.groupId', 'a non-empty string'],
    [{ retry: { attempts: 0 } }, 'worker.retry.attempts', 'an integer >= 1'],
    [{ retry: { factor: 0.5 } }, 'worker.retry.factor', 'a number >= 1'],
    [
      { retry: { initialDelayMs: 100, maxDelayMs: 50 } },
      'worker.retry.maxDelayMs',
      'an integer from 100 to 3600000',
    ],
    [
      { markerRetentionMs: 1000 },
      'worker.markerRetentionMs',
      'an integer >= 60000 (one minute), or Infinity (kept forever)',
    ],
    [{ partitionConcurrency: 1.5 }, 'worker.partitionConcurrency', 'an integer >= 1'],
    [{ transaction: 'yes' }, 'worker.transaction', 'true or false'],
    [{ kafka: { groupId: 'x' } }, 'worker.kafka.groupId', 'nothing (set worker.groupId instead)'],
    [
      { groupID: 'typo' },
      'worker.groupID',
      expect.stringContaining('no such option (known: groupId, database,'),
    ],
    [{ retry: { attemps: 3 } }, 'worker.retry.attemps', expect.stringContaining('no such option')],
    [{ dedupe: 'offset' }, 'worker.dedupe', "one of 'markers', 'offsets'"],
    [
      { dedupe: 'offsets', kafka: { readUncommitted: true } },
      'worker.kafka.readUncommitted',
      expect.stringContaining("false with worker.dedupe 'offsets'"),
    ],
  ])('rejects %j naming %s', (options, option, expected) => {
    let error: unknown;
    try {
      validateWorkerOptions(options as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect(error).toMatchObject({ option, expected });
    expect((error as Error).message).toContain(`"${option}"`);
  });

  it("dedupes with markers by default; 'offsets' on request, read committed (readUncommitted unset or false)", () => {
    expect(validateWorkerOptions({}).dedupe).toBe('markers');
    expect(validateWorkerOptions({ dedupe: 'offsets' }).dedupe).toBe('offsets');
    const explicit = validateWorkerOptions({ dedupe: 'offsets', kafka: { readUncommitted: false } });
    expect(explicit.kafka.readUncommitted).toBe(false);
    // Markers mode leaves the choice to the user: a marker dedupes whatever was read.
    expect(validateWorkerOptions({ kafka: { readUncommitted: true } }).kafka.readUncommitted).toBe(true);
  });

  it('uses the given path in errors (the module passes "worker")', () => {
    expect(() => validateWorkerOptions({ groupId: 1 } as never, 'workers[0]')).toThrow(
      /"workers\[0\]\.groupId"/,
    );
  });
});

describe('resolveRetryPolicy', () => {
  it('keeps the base when there is no override', () => {
    expect(resolveRetryPolicy(undefined, WORKER_DEFAULTS.retry, 'retry')).toBe(WORKER_DEFAULTS.retry);
  });
});
