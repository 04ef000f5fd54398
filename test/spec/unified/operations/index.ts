/**
 * The operations of the unified test format this runner supports, executed with the real `mongodb`
 * driver: change streams and DDL (database.ts), CRUD (crud.ts), sessions and transactions
 * (sessions.ts), and the `testRunner` operations (testrunner.ts, assertions.ts).
 */
import type { Document } from 'bson';
import type { EntityMap } from '../entities';
import { ASSERTION_HANDLERS } from './assertions';
import { CRUD_HANDLERS } from './crud';
import { DATABASE_HANDLERS } from './database';
import { SESSION_HANDLERS } from './sessions';
import { TEST_RUNNER_HANDLERS } from './testrunner';
import type { Handler, OperationContext, OperationDescription, RunnerHandler } from './types';

export { AssertionFailure } from './types';
export type { EnabledFailPoint, OperationContext, OperationDescription } from './types';
export { plainMaps } from './crud';

const HANDLERS: Record<string, Handler> = { ...DATABASE_HANDLERS, ...CRUD_HANDLERS, ...SESSION_HANDLERS };
const RUNNER_HANDLERS: Record<string, RunnerHandler> = { ...TEST_RUNNER_HANDLERS, ...ASSERTION_HANDLERS };

/** Runs one operation and returns its result (errors propagate). */
export async function executeOperation(
  operation: OperationDescription,
  context: OperationContext,
): Promise<unknown> {
  const args = resolveSession(operation.arguments ?? {}, context.entities);
  if (operation.object === 'testRunner') {
    const handler = RUNNER_HANDLERS[operation.name];
    if (!handler) throw new UnsupportedOperationError(`testRunner.${operation.name}`);
    return handler(args, context);
  }
  const handler = HANDLERS[operation.name];
  if (!handler) throw new UnsupportedOperationError(operation.name);
  return handler(context.entities.target(operation.object), args, context);
}

/** An operation this runner does not implement (reported as a failure naming it). */
export class UnsupportedOperationError extends Error {
  override name = 'UnsupportedOperationError';

  constructor(operation: string) {
    super(`unsupported operation '${operation}'`);
  }
}

function resolveSession(args: Document, entities: EntityMap): Document {
  return typeof args.session === 'string' ? { ...args, session: entities.session(args.session) } : args;
}
