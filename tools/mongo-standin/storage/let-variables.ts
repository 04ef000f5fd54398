/**
 * `let` variables (mongod 5.0+ on find, aggregate, update, delete and findAndModify; `c` on an
 * update statement): each value is an aggregation expression, evaluated once when the command
 * starts, and the results are the `$$name` variables of its filters, pipelines and pipeline
 * updates. Names follow mongod's rule for user variables.
 */
import type { Document } from 'bson';
import { evalExpr } from 'mingo/core';
import { ErrorCodes, serverError } from '../errors/server-error';
import { STANDIN_CONTEXT } from './mingo-context';
import { withMongoErrors } from './query';
import { bsonTypeName } from './values';

/**
 * The evaluated variables of a `let` (or `c`) document; undefined when there is none. Variables
 * from `outer` (a command's `let`, for a statement's `c`) are kept unless redefined; `root` is the
 * document field paths refer to (none for a command's `let`; a result for `$merge`'s).
 */
export function evaluateLet(
  spec: unknown,
  field = 'let',
  outer?: Document,
  root: Document = {},
): Document | undefined {
  if (spec === undefined || spec === null) return outer;
  if (typeof spec !== 'object' || Array.isArray(spec)) {
    throw serverError(
      ErrorCodes.TypeMismatch,
      `BSON field '${field}' is the wrong type '${bsonTypeName(spec)}', expected type 'object'`,
    );
  }
  const variables: Document = { ...outer };
  for (const [name, expression] of Object.entries(spec as Document)) {
    checkName(name);
    variables[name] = withMongoErrors(() =>
      evalExpr(root, expression, { context: STANDIN_CONTEXT, variables } as never),
    );
  }
  return variables;
}

/** mongod's validateNameForUserWrite: `[a-z]` (or non-ASCII) first, then `[A-Za-z0-9_]`. */
function checkName(name: string): void {
  if (!name) throw serverError(ErrorCodes.Location16866, 'empty variable names are not allowed');
  const nonAscii = (char: string) => char.charCodeAt(0) > 0x7f;
  if (!/[a-z]/.test(name[0]) && !nonAscii(name[0])) {
    throw serverError(
      ErrorCodes.Location16867,
      `'${name}' starts with an invalid character for a user variable name`,
    );
  }
  const invalid = [...name.slice(1)].find((char) => !/[A-Za-z0-9_]/.test(char) && !nonAscii(char));
  if (invalid !== undefined) {
    throw serverError(
      ErrorCodes.Location16868,
      `'${name}' contains an invalid character for a variable name: '${invalid}'`,
    );
  }
}
