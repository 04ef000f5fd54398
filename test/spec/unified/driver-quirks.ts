/**
 * Deviations of the Node driver 6.20 from what the spec tests expect of the commands it sends. They
 * come from the driver, whatever the server, so the runner absorbs them instead of failing the test;
 * each is narrow and says why. (The driver's own runner does not see them: it matches nested
 * documents laxly, where the unified format forbids extra fields.)
 */
import type { Document } from 'bson';

/** Driver transaction commands that carry its default `wtimeout`. */
const TRANSACTION_COMMANDS = new Set(['commitTransaction', 'abortTransaction']);

/**
 * The command as the test expects to see it. The driver adds `wtimeout: 10000` to the writeConcern
 * of commitTransaction / abortTransaction whenever a write concern is set (its SPEC-1185 default
 * for retries, src/sessions.ts, also on first attempts); tests that do not expect it omit it.
 */
export function expectedCommandView(commandName: string, command: Document, expected: Document): Document {
  const writeConcern = command.writeConcern as Document | undefined;
  if (!TRANSACTION_COMMANDS.has(commandName) || writeConcern?.wtimeout !== 10000) return command;
  const expectedWriteConcern = expected.writeConcern as Document | undefined;
  if (!expectedWriteConcern || 'wtimeout' in expectedWriteConcern) return command;
  const { wtimeout: _dropped, ...rest } = writeConcern;
  return { ...command, writeConcern: rest };
}
