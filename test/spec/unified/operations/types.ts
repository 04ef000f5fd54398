/** Shapes shared by the operation modules of the unified-format runner. */
import type { Document } from 'bson';
import type { MongoClient } from 'mongodb';
import type { EntityMap } from '../entities';

/** One `operations[]` item. */
export interface OperationDescription {
  name: string;
  object: string;
  arguments?: Document;
  expectResult?: unknown;
  expectError?: Document;
  saveResultAsEntity?: string;
  ignoreResultAndError?: boolean;
}

/** A fail point a test enabled, to be switched off afterwards through `client`. */
export interface EnabledFailPoint {
  client: MongoClient;
  name: string;
  /** True when the runner opened `client` for this fail point alone (closed after switching it off). */
  ownsClient?: boolean;
}

/** What an operation can reach. */
export interface OperationContext {
  entities: EntityMap;
  failPoints: EnabledFailPoint[];
  /** The runner's own client (the format's "internal MongoClient"), for the assertion operations. */
  internal: MongoClient;
  /** Runs a nested operation with its expectations, rethrowing its error (withTransaction callbacks). */
  runNested(operation: OperationDescription): Promise<void>;
}

/** An operation on an entity (`target` is the entity's driver object). */
export type Handler = (target: any, args: Document, context: OperationContext) => Promise<unknown>;

/** An operation on the `testRunner` object. */
export type RunnerHandler = (args: Document, context: OperationContext) => Promise<unknown>;

/** A failed assertion operation (assertSessionPinned...), reported as the test's failure. */
export class AssertionFailure extends Error {
  override name = 'AssertionFailure';
}
