/**
 * Resume tokens `{ _data: <hex> }` laid out like mongod's (version 2) so that the hex order is the
 * event order: cluster time, version, token type (high-water mark before events at the same
 * time), txnOpIndex, fromInvalidate, then the collection UUID and the event identifier.
 */
import type { Binary, Document, Timestamp } from 'bson';
import { ErrorCodes, serverError } from '../errors/server-error';
import { compareTimestamps } from './cluster-clock';
import { KeyStringReader, KeyStringWriter } from './keystring';

/** mongod's resume token version written by 7.0. */
export const RESUME_TOKEN_VERSION = 2;

/** mongod's token types: a high-water mark sorts before every event at its cluster time. */
export const TokenType = { HighWaterMark: 0, Event: 128 } as const;
export type TokenType = (typeof TokenType)[keyof typeof TokenType];

/** A point in the event order; everything a cursor needs to continue after it. */
export interface StreamPosition {
  clusterTime: Timestamp;
  tokenType: TokenType;
  /** Index of the event among those sharing its cluster time (0 for high-water marks). */
  txnOpIndex: number;
  /** True for the invalidate that follows the event at this cluster time / txnOpIndex. */
  fromInvalidate: boolean;
}

/** The decoded content of a resume token. */
export interface ResumeTokenData extends StreamPosition {
  version: number;
  /** The collection UUID (absent for high-water marks and database-level events). */
  uuid?: Binary;
  /** `{ operationType, documentKey }` for CRUD events, `{ operationType, operationDescription }` for DDL. */
  eventIdentifier?: Document;
  /** Index (from 0) of a fragment of an event split by `$changeStreamSplitLargeEvent`; last in the token, like mongod's. */
  fragmentNum?: number;
}

/** A resume token as it travels on the wire. */
export interface ResumeToken {
  _data: string;
}

/** Orders positions (negative, zero, positive) the way their tokens' hex strings order. */
export function comparePositions(a: StreamPosition, b: StreamPosition): number {
  return (
    compareTimestamps(a.clusterTime, b.clusterTime) ||
    a.tokenType - b.tokenType ||
    a.txnOpIndex - b.txnOpIndex ||
    Number(a.fromInvalidate) - Number(b.fromInvalidate)
  );
}

/** The high-water-mark position at a cluster time: before every event at or after that time. */
export function highWaterMark(clusterTime: Timestamp): StreamPosition {
  return { clusterTime, tokenType: TokenType.HighWaterMark, txnOpIndex: 0, fromInvalidate: false };
}

/** Encodes a token; its `_data` starts with `82` + the 8-byte cluster time like mongod's. */
export function encodeResumeToken(
  data: Omit<ResumeTokenData, 'version'> & { version?: number },
): ResumeToken {
  const writer = new KeyStringWriter()
    .timestamp(data.clusterTime)
    .integer(data.version ?? RESUME_TOKEN_VERSION)
    .integer(data.tokenType)
    .integer(data.txnOpIndex)
    .bool(data.fromInvalidate);
  if (data.uuid) writer.binary(data.uuid);
  if (data.eventIdentifier) writer.object(data.eventIdentifier);
  if (data.fragmentNum !== undefined) writer.integer(data.fragmentNum);
  return { _data: writer.byte(4).toHex() };
}

/** Decodes a token; anything malformed is InvalidResumeToken (260) naming what is wrong. */
export function decodeResumeToken(token: unknown): ResumeTokenData {
  const data = (token as { _data?: unknown } | null)?._data;
  if (typeof token !== 'object' || token === null || Array.isArray(token)) {
    throw invalidToken(`a resume token must be a document, got ${describe(token)}`);
  }
  const extra = Object.keys(token).filter((key) => key !== '_data' && key !== '_typeBits');
  if (extra.length) throw invalidToken(`unexpected field '${extra[0]}' in resume token`);
  if (typeof data !== 'string')
    throw invalidToken(`resume token field '_data' must be a hex string, got ${describe(data)}`);
  if (!/^([0-9a-fA-F]{2})+$/.test(data))
    throw invalidToken(`resume token field '_data' is not a hex string: '${data}'`);
  try {
    const reader = new KeyStringReader(Buffer.from(data, 'hex'));
    const clusterTime = reader.timestamp();
    const version = Number(reader.integer());
    const tokenType = Number(reader.integer());
    if (tokenType !== TokenType.Event && tokenType !== TokenType.HighWaterMark)
      throw new Error(`unknown token type ${tokenType}`);
    const txnOpIndex = Number(reader.integer());
    const fromInvalidate = reader.bool();
    const decoded: ResumeTokenData = { clusterTime, version, tokenType, txnOpIndex, fromInvalidate };
    if (reader.peek() === 0x5a) decoded.uuid = reader.binary();
    if (reader.peek() === 0x46) decoded.eventIdentifier = reader.object();
    if (decoded.eventIdentifier && reader.peek() !== 4) decoded.fragmentNum = fragmentNumOf(reader.integer());
    reader.expect(4, 'the end of the token');
    if (!reader.done) throw new Error('trailing bytes after the end of the token');
    if (txnOpIndex < 0) throw new Error(`negative txnOpIndex ${txnOpIndex}`);
    return decoded;
  } catch (error) {
    throw invalidToken(`cannot decode resume token '${data}': ${(error as Error).message}`);
  }
}

/** mongod: "Resume token 'fragmentNum' must be a non-negative integer." */
function fragmentNumOf(value: number | bigint): number {
  const fragmentNum = Number(value);
  if (!Number.isSafeInteger(fragmentNum) || fragmentNum < 0)
    throw new Error("Resume token 'fragmentNum' must be a non-negative integer.");
  return fragmentNum;
}

function invalidToken(message: string) {
  return serverError(ErrorCodes.InvalidResumeToken, message);
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}
