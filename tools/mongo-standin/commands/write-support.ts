/**
 * What the write commands (write.ts, find-and-modify.ts) share: their target, the options every
 * statement of a command shares, and mongod 7.0's strict parsing of write statements.
 */
import type { Document } from 'bson';
import { ErrorCodes, serverError } from '../errors/server-error';
import type { Collection } from '../storage/collection';
import { optional, type CommandContext } from './context';

/** The collection a write targets when it exists (no implicit creation for writes that match nothing). */
export function existingTarget(context: CommandContext, name: string): Collection | undefined {
  return context.writer.collection(context.db, name) ? context.writer.target(context.db, name) : undefined;
}

/** `bypassDocumentValidation: true` skips the collection's validator (validation.ts). */
export const bypassesValidation = (context: CommandContext) =>
  optional<boolean>(context.command, 'bypassDocumentValidation', 'boolean') === true;

/**
 * mongod 7.0 parses write statements strictly: an unknown field (`sort` on an update, an 8.0
 * addition) fails the whole command with 40415 before any statement runs.
 */
export function checkStatementFields(
  command: string,
  field: string,
  statements: Document[],
  known: Set<string>,
): void {
  for (const statement of statements) {
    const unknown = Object.keys(statement ?? {}).find((key) => !known.has(key));
    if (unknown !== undefined) {
      throw serverError(
        ErrorCodes.Location40415,
        `BSON field '${command}.${field}.${unknown}' is an unknown field.`,
      );
    }
  }
}

export const UPDATE_STATEMENT_FIELDS = new Set([
  'q',
  'u',
  'c',
  'upsert',
  'multi',
  'arrayFilters',
  'hint',
  'collation',
  'upsertSupplied',
  'sampleId',
]);
export const DELETE_STATEMENT_FIELDS = new Set(['q', 'limit', 'hint', 'collation', 'sampleId']);

/** What every statement of a write command shares: its `let` variables, whether it bypasses validation. */
export interface WriteOptions {
  variables?: Document;
  bypass: boolean;
}
