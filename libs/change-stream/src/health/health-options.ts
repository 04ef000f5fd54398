import { InvalidOptionsError } from '../errors/invalid-options.error';
import type { ChangeStreamHealthOptions } from './change-stream-health';

const KEYS = ['maxReadSilenceMs', 'maxCheckpointAgeMs', 'maxEventLoopDelayMs'] as const;

/**
 * Checks the options of ChangeStreamHealthModule.forRoot at start-up: known keys only, each unset
 * or a positive number of ms. Throws InvalidOptionsError naming the option.
 */
export function validateHealthOptions(options: ChangeStreamHealthOptions): ChangeStreamHealthOptions {
  for (const key of Object.keys(options)) {
    if (!(KEYS as readonly string[]).includes(key))
      throw new InvalidOptionsError(key, `one of ${KEYS.join(', ')} (ChangeStreamHealthModule.forRoot)`, key);
  }
  for (const key of KEYS) {
    const value = options[key];
    if (value !== undefined && (typeof value !== 'number' || Number.isNaN(value) || value <= 0))
      throw new InvalidOptionsError(key, 'a positive number of ms (ChangeStreamHealthModule.forRoot)', value);
  }
  return options;
}
