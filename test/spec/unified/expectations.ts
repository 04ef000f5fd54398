/**
 * The unified format's expectations beyond results: expectError, expectEvents (command monitoring)
 * and outcome (collection contents after the test).
 */
import { EJSON, type Document } from 'bson';
import { MongoClientBulkWriteError, MongoServerError, type MongoClient, type MongoError } from 'mongodb';
import { expectedCommandView } from './driver-quirks';
import type { EntityMap } from './entities';
import { assertMatches, assertMatchesIterable, MatchError, type MatchContext } from './matcher';
import { plainMaps } from './operations';

export interface ExpectedEvents {
  client: string;
  events: Document[];
  eventType?: string;
  ignoreExtraEvents?: boolean;
}

export interface ExpectedCollection {
  collectionName: string;
  databaseName: string;
  documents: Document[];
}

/** Client bulk write errors carry the server's top-level error as `cause`. */
function topLevelError(error: unknown): MongoError {
  return (error instanceof MongoClientBulkWriteError ? (error.cause ?? error) : error) as MongoError;
}

/** Throws a MatchError unless `error` is the `expectError` described. */
export function assertError(expected: Document, error: unknown, context: MatchContext): void {
  const actual = error as MongoError & { codeName?: string };
  const top = topLevelError(error) as MongoError & { codeName?: string };
  const problems: string[] = [];
  if (expected.isClientError !== undefined && expected.isClientError === top instanceof MongoServerError)
    problems.push(`expected a ${expected.isClientError ? 'client' : 'server'} error`);
  const message = String(actual?.message).toLowerCase();
  if (expected.errorContains !== undefined && !message.includes(String(expected.errorContains).toLowerCase()))
    problems.push(`expected the message to contain '${expected.errorContains}'`);
  if (expected.errorCode !== undefined && top.code !== expected.errorCode)
    problems.push(`expected code ${expected.errorCode}`);
  if (expected.errorCodeName !== undefined && top.codeName !== expected.errorCodeName)
    problems.push(`expected codeName ${expected.errorCodeName}`);
  for (const label of expected.errorLabelsContain ?? [])
    if (!top.hasErrorLabel?.(label)) problems.push(`expected label ${label}`);
  for (const label of expected.errorLabelsOmit ?? [])
    if (top.hasErrorLabel?.(label)) problems.push(`expected no label ${label}`);
  if (problems.length) {
    const labels = top?.errorLabels ?? [];
    throw new MatchError(
      `${problems.join(', ')}; got ${actual?.constructor?.name} code ${top?.code} (${top?.codeName}) labels [${labels}]: ${actual?.message}`,
    );
  }
  assertErrorDetails(expected, actual, top, context);
}

/** expectResult (a partial result), errorResponse, writeErrors and writeConcernErrors of an error. */
function assertErrorDetails(expected: Document, error: Document, top: unknown, context: MatchContext): void {
  const check = (what: string, assert: () => void) => {
    try {
      assert();
    } catch (mismatch) {
      throw new MatchError(`error ${what}: ${(mismatch as Error).message}`);
    }
  };
  const partial = 'partialResult' in error ? error.partialResult : error;
  if (expected.expectResult !== undefined)
    check('result', () => assertMatches(expected.expectResult, plainMaps(partial), context));
  if (expected.errorResponse !== undefined)
    check('response', () => assertMatches(expected.errorResponse, top, context));
  // NOTE: writeErrors values and writeConcernErrors elements are root-level documents in the format.
  const writeErrors = plainMaps(error.writeErrors) as Document | undefined;
  for (const [index, writeError] of Object.entries((expected.writeErrors ?? {}) as Document))
    check(`writeErrors[${index}]`, () => assertMatches(writeError, writeErrors?.[index], context));
  if (expected.writeConcernErrors !== undefined)
    check('writeConcernErrors', () =>
      assertMatchesIterable(expected.writeConcernErrors, error.writeConcernErrors, context),
    );
}

/** Throws a MatchError unless the client observed the expected command monitoring events, in order. */
export function assertEvents(expected: ExpectedEvents, entities: EntityMap, context: MatchContext): void {
  if (expected.eventType && expected.eventType !== 'command')
    throw new Error(`unsupported eventType '${expected.eventType}'`);
  const actual = entities.client(expected.client).events;
  const listing = () => actual.map((e) => `${e.type}:${e.commandName}`).join(', ');
  const countOk = expected.ignoreExtraEvents
    ? actual.length >= expected.events.length
    : actual.length === expected.events.length;
  if (!countOk)
    throw new MatchError(
      `client ${expected.client}: expected ${expected.events.length} events, got ${actual.length} (${listing()})`,
    );
  expected.events.forEach((event, index) => {
    const [type, fields] = Object.entries(event)[0] as [string, Document];
    const observed = actual[index];
    const where = `client ${expected.client} event #${index}`;
    const mismatch = (what: string, got: unknown) =>
      new MatchError(`${where}: expected ${what}, got ${got} (${listing()})`);
    if (observed.type !== type) throw mismatch(type, `${observed.type}:${observed.commandName}`);
    if (fields.commandName !== undefined && fields.commandName !== observed.commandName)
      throw mismatch(`command ${fields.commandName}`, observed.commandName);
    if (fields.databaseName !== undefined && fields.databaseName !== observed.databaseName)
      throw mismatch(`database ${fields.databaseName}`, observed.databaseName);
    try {
      if (fields.command !== undefined) {
        const command = expectedCommandView(observed.commandName, observed.command ?? {}, fields.command);
        assertMatches(fields.command, command, context);
      }
      if (fields.reply !== undefined) assertMatches(fields.reply, observed.reply, context);
    } catch (error) {
      throw new MatchError(`${where} (${observed.commandName}): ${(error as Error).message}`);
    }
  });
}

/** Throws a MatchError unless the collection holds exactly the expected documents (by _id order). */
export async function assertOutcome(
  expected: ExpectedCollection,
  client: MongoClient,
  context: MatchContext,
): Promise<void> {
  const documents = await client
    .db(expected.databaseName)
    .collection(expected.collectionName)
    .find({}, { readConcern: { level: 'local' }, readPreference: 'primary' })
    .sort({ _id: 1 })
    .toArray();
  try {
    assertMatches(expected.documents, documents, context, false);
  } catch (error) {
    throw new MatchError(
      `outcome of ${expected.databaseName}.${expected.collectionName}: ${(error as Error).message}`,
    );
  }
}

/** A value as relaxed extended JSON, for messages. */
export function describe(value: unknown): string {
  try {
    return EJSON.stringify(value as Document, { relaxed: true });
  } catch {
    return String(value);
  }
}
