import { MESSAGES } from '../change-stream.messages';
import { InvalidOptionsError } from '../errors/invalid-options.error';
import type { ChangeStreamModuleOptions } from '../interfaces/change-stream-options.interface';
import { logDeprecations } from './backoff';
import { resolveOptions } from './resolve-options';

const base = (): ChangeStreamModuleOptions => ({
  mongo: { uri: 'mongodb://localhost:27017/?replicaSet=rs0' },
  kafka: { brokers: ['localhost:9092'] },
  streams: [{ db: 'shop', collection: 'orders' }],
});

/** Resolves `patch` over the base options; returns the roles and the deprecations it was told of. */
function resolve(patch: Record<string, unknown>) {
  const told: Array<[string, string]> = [];
  const options = { ...base(), ...patch } as ChangeStreamModuleOptions;
  const resolved = resolveOptions(options, (old, replacement) => told.push([old, replacement]));
  return { roles: resolved.roles, resolved, told };
}

const refusal = (patch: Record<string, unknown>): InvalidOptionsError => {
  try {
    resolve(patch);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionsError);
    return error as InvalidOptionsError;
  }
  throw new Error('resolveOptions accepted disagreeing role options');
};

describe('roles: relay and worker', () => {
  it('runs both roles by default, and keeps the default settings of a role turned off', () => {
    expect(resolve({}).roles).toEqual({ relay: true, worker: true });
    const { roles, resolved, told } = resolve({ relay: false, worker: false });
    expect(roles).toEqual({ relay: false, worker: false });
    expect(resolved.relay.batchSize).toBe(500);
    expect(resolved.worker.groupId).toBe('change-stream-workers');
    expect(told).toEqual([]);
  });

  it('runs a role given its settings', () => {
    const { roles, resolved } = resolve({ relay: { batchSize: 50 }, worker: { groupId: 'g' } });
    expect(roles).toEqual({ relay: true, worker: true });
    expect(resolved.relay.batchSize).toBe(50);
    expect(resolved.worker.groupId).toBe('g');
  });

  it.each([
    [{ listener: false }, { relay: false, worker: true }, [['listener', 'relay: false']]],
    [{ consumer: false }, { relay: true, worker: false }, [['consumer', 'worker: false']]],
    [
      { listener: true, consumer: true },
      { relay: true, worker: true },
      [
        ['listener', 'relay'],
        ['consumer', 'worker'],
      ],
    ],
    [{ listener: false, relay: false }, { relay: false, worker: true }, [['listener', 'relay: false']]],
    [{ consumer: true, worker: { groupId: 'g' } }, { relay: true, worker: true }, [['consumer', 'worker']]],
  ])('still accepts the old toggle %j, reporting it deprecated', (patch, roles, told) => {
    expect(resolve(patch)).toMatchObject({ roles, told });
  });

  it.each([
    [{ listener: false, relay: { batchSize: 50 } }, 'listener', /"relay" replaces it and is set/],
    [{ listener: true, relay: false }, 'listener', /"relay" replaces it and is false/],
    [{ consumer: false, worker: { groupId: 'g' } }, 'consumer', /"worker" replaces it and is set/],
    [{ consumer: true, worker: false }, 'consumer', /"worker" replaces it and is false/],
    [{ listener: 'yes' }, 'listener', /true or false/],
    [{ worker: true }, 'worker', /an object, or false to turn the role off/],
  ])('refuses %j, naming the option', (patch, option, expected) => {
    const error = refusal(patch);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(expected);
  });

  it('logs one warning per old toggle at start-up, naming the old and the new key', () => {
    const logger = { warn: jest.fn() };
    resolveOptions({ ...base(), listener: false, consumer: true }, logDeprecations(logger));
    expect(logger.warn.mock.calls).toEqual([
      [MESSAGES.deprecatedOption('listener', 'relay: false')],
      [MESSAGES.deprecatedOption('consumer', 'worker')],
    ]);
  });
});
