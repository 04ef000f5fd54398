/** Which roles a replica runs: `relay: false` / `worker: false`, and the old toggles `listener` / `consumer`. */
import { InvalidOptionsError } from '../errors/invalid-options.error';
import type { ResolvedRoles } from '../interfaces/change-stream-options.interface';
import { optionalBoolean } from '../utils/option-validators';
import type { DeprecationSink } from './backoff';
import { DEFAULTS } from './defaults';

type Role = keyof ResolvedRoles;

/** The toggles that named the roles before 0.2, and the section replacing each. */
const OLD_TOGGLES: Readonly<Record<string, Role>> = { listener: 'relay', consumer: 'worker' };

/**
 * The roles of `options` (the raw top level). A role is off when its section is `false`. The old
 * toggles `listener: boolean` / `consumer: boolean` are still accepted for one minor version: each
 * use is reported to `deprecated`, and one that disagrees with its section (`listener: false` with
 * a `relay` object, `listener: true` with `relay: false`) is refused rather than guessed.
 */
export function resolveRoles(options: Record<string, unknown>, deprecated: DeprecationSink): ResolvedRoles {
  const roles: ResolvedRoles = { ...DEFAULTS.roles };
  for (const [old, role] of Object.entries(OLD_TOGGLES)) roles[role] = roleOn(options, old, role, deprecated);
  return roles;
}

/**
 * The settings of a role's section for its resolver: undefined (defaults) when the role is off.
 * Call after {@link resolveRoles}, which refused any value but an object, false or nothing.
 */
export function roleSection(options: Record<string, unknown>, role: Role): unknown {
  return options[role] === false ? undefined : options[role];
}

function roleOn(
  options: Record<string, unknown>,
  old: string,
  role: Role,
  deprecated: DeprecationSink,
): boolean {
  const section = options[role];
  if (section !== undefined && section !== false && (typeof section !== 'object' || section === null))
    throw new InvalidOptionsError(role, 'an object, or false to turn the role off', section);
  const on = section === undefined ? DEFAULTS.roles[role] : section !== false;
  if (options[old] === undefined) return on;
  const toggle = optionalBoolean(options[old], old, on);
  if (section !== undefined && toggle !== on)
    throw new InvalidOptionsError(
      old,
      `nothing: "${role}" replaces it and ${on ? 'is set' : 'is false'}`,
      options[old],
    );
  deprecated(old, toggle ? role : `${role}: false`);
  return toggle;
}
