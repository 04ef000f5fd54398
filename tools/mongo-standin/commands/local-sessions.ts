/**
 * `$listLocalSessions` (a first stage of `aggregate: 1`): mongod lists the sessions of its
 * in-memory session cache as `{ _id: { id, uid }, lastUse }`. The stand-in lists the session of
 * the command itself (the one a driver always sends), the session cache being the session
 * registry's, which it does not expose.
 */
import { createHash } from 'node:crypto';
import { Binary, type Document } from 'bson';
import { ErrorCodes, serverError } from '../errors/server-error';
import type { CommandContext } from './context';

/** The uid of a session without authentication: SHA-256 of the empty user name, as mongod computes it. */
const ANONYMOUS_UID = new Binary(createHash('sha256').update('').digest(), 0);

/**
 * When the pipeline starts with `$listLocalSessions`: the sessions it lists and the rest of the
 * pipeline; else undefined. 40602 when the stage comes later.
 */
export function localSessionsSource(
  context: CommandContext,
  pipeline: Document[],
): { sessions: Document[]; rest: Document[] } | undefined {
  const later = pipeline.findIndex((stage, index) => index > 0 && stage && '$listLocalSessions' in stage);
  if (later > 0) {
    throw serverError(
      ErrorCodes.Location40602,
      '$listLocalSessions is only valid as the first stage in a pipeline.',
    );
  }
  const [first, ...rest] = pipeline;
  if (!first || !('$listLocalSessions' in first)) return undefined;
  if (context.command.aggregate !== 1) {
    throw serverError(
      ErrorCodes.InvalidNamespace,
      '$listLocalSessions must be run against the database with {aggregate: 1}, not a collection',
    );
  }
  const lsid = context.command.lsid as Document | undefined;
  const sessions = lsid ? [{ _id: { id: lsid.id, uid: ANONYMOUS_UID }, lastUse: new Date() }] : [];
  return { sessions, rest };
}
