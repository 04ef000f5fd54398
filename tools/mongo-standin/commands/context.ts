/**
 * What a command handler gets, and the small parsing helpers the handlers share.
 */
import type { Document } from 'bson';
import type { ChangeStreamEngine } from '../change-streams/contract';
import type { CursorRegistry } from '../services/cursors';
import { ErrorCodes, serverError } from '../errors/server-error';
import type { FailPoints } from '../services/failpoints';
import type { PrimaryState } from '../services/primary';
import type { ScramAuthenticator } from '../services/scram';
import type { SessionRegistry } from '../services/sessions';
import type { Collection } from '../storage/collection';
import { aggregateDocuments } from '../storage/query';
import type { Store } from '../storage/store';
import type { Transaction } from '../storage/transaction';
import type { Writer } from '../storage/writer';

/** The server's shared state, as commands see it. */
export interface Services {
  readonly store: Store;
  readonly engine: ChangeStreamEngine;
  readonly cursors: CursorRegistry;
  readonly sessions: SessionRegistry;
  readonly failPoints: FailPoints;
  readonly primary: PrimaryState;
  /** The users and SCRAM conversations (saslStart / saslContinue). */
  readonly auth: ScramAuthenticator;
  /** "127.0.0.1:<port>". */
  address(): string;
  readonly connections: { current: number; totalCreated: number };
  readonly startedAt: Date;
}

/** The client side of a connection, as the handshake described it. */
export interface ClientInfo {
  readonly connectionId: number;
  appName?: string;
}

export interface CommandContext {
  readonly services: Services;
  /** The command's database (`$db`). */
  readonly db: string;
  readonly command: Document;
  readonly client: ClientInfo;
  /** Set when the command runs inside a multi-document transaction. */
  readonly txn?: Transaction;
  readonly writer: Writer;
  /** When the command's maxTimeMS runs out (ms since the epoch), if it has one. */
  readonly deadline?: number;
}

export interface CommandDefinition {
  run(context: CommandContext): Document | Promise<Document>;
  /** Needs a writable primary; with a txnNumber outside a transaction it is a retryable write. */
  write?: boolean;
  /** Runs only on the admin database. */
  adminOnly?: boolean;
}

export type CommandTable = Record<string, CommandDefinition>;

/** The collection name a command names in its first field (`{ find: 'users' }`). */
export function collectionNameOf(context: CommandContext): string {
  const name = Object.keys(context.command)[0];
  const value = context.command[name];
  if (typeof value !== 'string' || !value) {
    throw serverError(ErrorCodes.InvalidNamespace, `collection name has invalid type ${typeof value}`);
  }
  return value;
}

/** An optional field of a given type; TypeMismatch (14) names the field when it has another. */
export function optional<T>(
  command: Document,
  field: string,
  type: 'number' | 'boolean' | 'object' | 'string' | 'array',
): T | undefined {
  const value = command[field];
  if (value === undefined || value === null) return undefined;
  const ok =
    type === 'array'
      ? Array.isArray(value)
      : type === 'object'
        ? typeof value === 'object' && !Array.isArray(value)
        : typeof value === type;
  if (!ok) {
    throw serverError(
      ErrorCodes.TypeMismatch,
      `BSON field '${field}' is the wrong type '${describeType(value)}', expected type '${type}'`,
    );
  }
  return value as T;
}

/** A required field of a given type; NoSuchKey (4) names it when absent. */
export function required<T>(
  command: Document,
  field: string,
  type: 'number' | 'boolean' | 'object' | 'string' | 'array',
): T {
  const value = optional<T>(command, field, type);
  if (value === undefined) {
    throw serverError(ErrorCodes.NoSuchKey, `BSON field '${field}' is missing but a required field`);
  }
  return value;
}

const describeType = (value: unknown) => (Array.isArray(value) ? 'array' : typeof value);

/**
 * The documents a read sees (its transaction's view or committed data; a view's pipeline output),
 * narrowed by the `_id` of `filter` when it names one; callers still apply the filter.
 */
export function readableDocuments(
  context: CommandContext,
  collection: Collection | undefined,
  filter?: Document,
): Document[] {
  if (!collection) return [];
  if (collection.isView) {
    const source = context.writer.collection(collection.db, collection.options.viewOn as string);
    return aggregateDocuments(
      readableDocuments(context, source),
      (collection.options.pipeline as Document[]) ?? [],
    );
  }
  return context.writer.data(collection).candidates(filter);
}

/** Resolves `$lookup` / `$unionWith` sources within the command's database. */
export const collectionResolver = (context: CommandContext) => (name: string) =>
  readableDocuments(context, context.writer.collection(context.db, name));
