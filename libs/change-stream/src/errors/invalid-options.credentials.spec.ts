/**
 * An InvalidOptionsError names the bad option and what it accepts, never a credential: the value of a
 * credential option is masked, and a string value has the credentials of its URIs redacted.
 */
import { resolveOptions } from '../options/resolve-options';
import type { ChangeStreamModuleOptions } from '../interfaces/change-stream-options.interface';
import { InvalidOptionsError } from './invalid-options.error';

const SECRET = 'S3cretPass';
const base = {
  mongo: { uri: 'mongodb://db1:27017/?replicaSet=rs0' },
  kafka: { brokers: ['k1:9092'] },
  streams: [{ db: 'shop', collection: 'orders' }],
};

function refusal(patch: Record<string, unknown>): InvalidOptionsError {
  try {
    resolveOptions({ ...base, ...patch } as unknown as ChangeStreamModuleOptions);
  } catch (error) {
    if (error instanceof InvalidOptionsError) return error;
    throw error;
  }
  throw new Error('resolveOptions accepted invalid options');
}

describe('InvalidOptionsError hides credentials', () => {
  it.each<[string, string, Record<string, unknown>]>([
    ['a MongoDB URI of another scheme', 'mongo.uri', { mongo: { uri: `mongo://admin:${SECRET}@db1` } }],
    ['a Redis URL of another scheme', 'redis.urls[0]', { redis: { urls: [`http://:${SECRET}@r1:6379`] } }],
    [
      'a password given as an unknown MongoDB option',
      'mongo.password',
      { mongo: { ...base.mongo, password: SECRET } },
    ],
    [
      'a password given as an unknown Redis option',
      'redis.password',
      { redis: { urls: ['redis://r1'], password: SECRET } },
    ],
    [
      'a misspelt SASL section',
      'kafka.sasll',
      { kafka: { ...base.kafka, sasll: { mechanism: 'plain', password: SECRET } } },
    ],
    ['a token option', 'kafka.accessToken', { kafka: { ...base.kafka, accessToken: SECRET } }],
  ])('%s: names %s, masks the value', (_what, option, patch) => {
    const error = refusal(patch);
    expect(error.option).toBe(option);
    expect(error.message).toContain(`"${option}"`);
    expect(error.message).not.toContain(SECRET);
    expect(JSON.stringify(error.received) ?? '').not.toContain(SECRET);
  });

  it('still shows the server of a refused URI', () => {
    expect(refusal({ mongo: { uri: `mongo://admin:${SECRET}@db1:27017` } }).message).toContain(
      '"mongo://<credentials>@db1:27017"',
    );
  });
});
