/**
 * Write concern on a one-member replica set, as mongod checks it after a write or command took
 * effect (waitForWriteConcern): `w` above the number of data-bearing members is
 * UnsatisfiableWriteConcern (100), a tag the replica set config does not define is
 * UnknownReplWriteConcern (79). mongod reports both as a writeConcernError beside `ok: 1`, and the
 * write stays applied (a commitTransaction too: the transaction is committed).
 */
import type { Document } from 'bson';
import { ErrorCodes } from '../errors/server-error';

/** Data-bearing members of the stand-in's replica set. */
const MEMBERS = 1;

/** The writeConcernError for a command's `writeConcern`, or undefined when it is satisfied. */
export function unsatisfiedWriteConcern(command: Document): Document | undefined {
  const writeConcern = command.writeConcern as Document | undefined;
  const w: unknown = writeConcern?.w;
  if (w === undefined || w === 'majority') return undefined;
  const errInfo = {
    writeConcern: { w, wtimeout: Number(writeConcern?.wtimeout ?? 0), provenance: 'clientSupplied' },
  };
  if (typeof w === 'string') {
    return {
      code: ErrorCodes.UnknownReplWriteConcern,
      codeName: 'UnknownReplWriteConcern',
      errmsg: `No write concern mode named '${w}' found in replica set configuration`,
      errInfo,
    };
  }
  if (Number(w) > MEMBERS) {
    return {
      code: ErrorCodes.UnsatisfiableWriteConcern,
      codeName: 'UnsatisfiableWriteConcern',
      errmsg: 'Not enough data-bearing nodes',
      errInfo,
    };
  }
  return undefined;
}
