/**
 * MongoDB wire protocol framing: the legacy OP_QUERY / OP_REPLY pair the driver uses for its first
 * handshake, and OP_MSG for everything after. Pure functions over Buffers; no sockets here.
 */
import { serialize, type Document } from 'bson';
import { decodeDocument } from '../storage/values';

export const OpCode = { REPLY: 1, QUERY: 2004, COMPRESSED: 2012, MSG: 2013 } as const;

/** OP_MSG flag bits. */
export const MsgFlag = { CHECKSUM_PRESENT: 1 << 0, MORE_TO_COME: 1 << 1, EXHAUST_ALLOWED: 1 << 16 } as const;

/** Largest message the stand-in accepts (mongod's maxMessageSizeBytes). */
export const MAX_MESSAGE_SIZE = 48_000_000;
/** Largest document (mongod's maxBsonObjectSize). */
export const MAX_BSON_OBJECT_SIZE = 16 * 1024 * 1024;

const HEADER_SIZE = 16;
/** Flag bits 0-15 are "required": a receiver must reject bits it does not know. */
const KNOWN_REQUIRED_FLAGS = MsgFlag.CHECKSUM_PRESENT | MsgFlag.MORE_TO_COME;

/** A message that cannot be parsed. The connection that sent it is closed. */
export class WireProtocolError extends Error {
  override readonly name = 'WireProtocolError';
}

/** A request as the server handles it: a command document plus how to answer it. */
export interface WireRequest {
  requestId: number;
  /** OP_QUERY requests are answered with OP_REPLY, OP_MSG requests with OP_MSG. */
  opCode: typeof OpCode.QUERY | typeof OpCode.MSG;
  /** Database the command runs on (`$db` for OP_MSG, the `<db>.$cmd` prefix for OP_QUERY). */
  db: string;
  /** The command, with OP_MSG document sequences merged in as arrays. */
  command: Document;
  /** OP_MSG moreToCome: the client expects no reply. */
  moreToCome: boolean;
}

/** Splits a byte stream into whole messages. */
export class MessageFramer {
  private buffered: Buffer = Buffer.alloc(0);

  /** Adds received bytes; returns the messages now complete. Throws WireProtocolError on a bad length. */
  push(chunk: Buffer): Buffer[] {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const messages: Buffer[] = [];
    while (this.buffered.length >= 4) {
      const length = this.buffered.readInt32LE(0);
      if (length < HEADER_SIZE || length > MAX_MESSAGE_SIZE) {
        throw new WireProtocolError(
          `message length ${length} is outside [${HEADER_SIZE}, ${MAX_MESSAGE_SIZE}]`,
        );
      }
      if (this.buffered.length < length) break;
      messages.push(this.buffered.subarray(0, length));
      this.buffered = this.buffered.subarray(length);
    }
    return messages;
  }
}

/** Parses one whole message (header included). Throws WireProtocolError when it is malformed. */
export function parseRequest(message: Buffer): WireRequest {
  const requestId = message.readInt32LE(4);
  const opCode = message.readInt32LE(12);
  const reader = new Reader(message, HEADER_SIZE);
  if (opCode === OpCode.MSG) return parseMsg(reader, requestId);
  if (opCode === OpCode.QUERY) return parseQuery(reader, requestId);
  throw new WireProtocolError(`unsupported opCode ${opCode}`);
}

function parseMsg(reader: Reader, requestId: number): WireRequest {
  const flags = reader.uint32();
  const unknownRequired = flags & 0xffff & ~KNOWN_REQUIRED_FLAGS;
  if (unknownRequired) {
    throw new WireProtocolError(`unknown required OP_MSG flag bits 0x${unknownRequired.toString(16)}`);
  }
  // NOTE: the CRC-32C checksum is tolerated but not verified: loopback traffic does not corrupt.
  const end = reader.buffer.length - (flags & MsgFlag.CHECKSUM_PRESENT ? 4 : 0);
  let body: Document | undefined;
  const sequences: Array<[string, Document[]]> = [];
  while (reader.offset < end) {
    const kind = reader.uint8();
    if (kind === 0) {
      if (body) throw new WireProtocolError('OP_MSG has more than one body section');
      body = reader.document(end);
    } else if (kind === 1) {
      const sectionEnd = reader.offset + reader.int32();
      if (sectionEnd > end) throw new WireProtocolError('OP_MSG document sequence overruns the message');
      const identifier = reader.cstring(sectionEnd);
      const documents: Document[] = [];
      while (reader.offset < sectionEnd) documents.push(reader.document(sectionEnd));
      sequences.push([identifier, documents]);
    } else {
      throw new WireProtocolError(`unknown OP_MSG section kind ${kind}`);
    }
  }
  if (!body) throw new WireProtocolError('OP_MSG has no body section');
  for (const [identifier, documents] of sequences) body[identifier] = documents;
  if (typeof body.$db !== 'string') throw new WireProtocolError('OP_MSG body has no $db');
  return {
    requestId,
    opCode: OpCode.MSG,
    db: body.$db,
    command: body,
    moreToCome: (flags & MsgFlag.MORE_TO_COME) !== 0,
  };
}

function parseQuery(reader: Reader, requestId: number): WireRequest {
  reader.int32(); // flags
  const collection = reader.cstring(reader.buffer.length);
  reader.int32(); // numberToSkip
  reader.int32(); // numberToReturn
  const query = reader.document(reader.buffer.length);
  if (!collection.endsWith('.$cmd')) {
    throw new WireProtocolError(`OP_QUERY is only supported on <db>.$cmd, not ${collection}`);
  }
  // Legacy drivers may wrap the command: { $query: { ismaster: 1 }, $readPreference: ... }.
  const command = query.$query && typeof query.$query === 'object' ? (query.$query as Document) : query;
  return {
    requestId,
    opCode: OpCode.QUERY,
    db: collection.slice(0, -'.$cmd'.length),
    command,
    moreToCome: false,
  };
}

/** Encodes a reply in the format the request expects. */
export function encodeReply(
  request: Pick<WireRequest, 'opCode' | 'requestId'>,
  requestId: number,
  reply: Document,
): Buffer {
  const body = Buffer.from(serialize(reply));
  if (request.opCode === OpCode.QUERY) {
    const prefix = Buffer.alloc(HEADER_SIZE + 20);
    writeHeader(prefix, prefix.length + body.length, requestId, request.requestId, OpCode.REPLY);
    prefix.writeInt32LE(8, 16); // responseFlags: AwaitCapable
    prefix.writeBigInt64LE(0n, 20); // cursorID
    prefix.writeInt32LE(0, 28); // startingFrom
    prefix.writeInt32LE(1, 32); // numberReturned
    return Buffer.concat([prefix, body]);
  }
  return encodeMsg(requestId, request.requestId, reply);
}

/** Encodes an OP_MSG with a single body section (also used by test clients). */
export function encodeMsg(requestId: number, responseTo: number, body: Document, flags = 0): Buffer {
  const document = Buffer.from(serialize(body));
  const prefix = Buffer.alloc(HEADER_SIZE + 5);
  writeHeader(prefix, prefix.length + document.length, requestId, responseTo, OpCode.MSG);
  prefix.writeUInt32LE(flags >>> 0, 16);
  prefix.writeUInt8(0, 20);
  return Buffer.concat([prefix, document]);
}

/** Decodes the body of an OP_MSG reply (for test clients). */
export function decodeMsgBody(message: Buffer): Document {
  return new Reader(message, HEADER_SIZE + 5).document(message.length);
}

function writeHeader(
  buffer: Buffer,
  length: number,
  requestId: number,
  responseTo: number,
  opCode: number,
): void {
  buffer.writeInt32LE(length, 0);
  buffer.writeInt32LE(requestId, 4);
  buffer.writeInt32LE(responseTo, 8);
  buffer.writeInt32LE(opCode, 12);
}

/** Bounds-checked cursor over a message buffer. */
class Reader {
  constructor(
    readonly buffer: Buffer,
    public offset: number,
  ) {}

  uint8(): number {
    this.need(1);
    return this.buffer.readUInt8(this.offset++);
  }

  int32(): number {
    this.need(4);
    const value = this.buffer.readInt32LE(this.offset);
    this.offset += 4;
    return value;
  }

  uint32(): number {
    this.need(4);
    const value = this.buffer.readUInt32LE(this.offset);
    this.offset += 4;
    return value;
  }

  cstring(limit: number): string {
    const nul = this.buffer.indexOf(0, this.offset);
    if (nul < 0 || nul >= limit) throw new WireProtocolError('unterminated C string');
    const value = this.buffer.toString('utf8', this.offset, nul);
    this.offset = nul + 1;
    return value;
  }

  document(limit: number): Document {
    this.need(4);
    const size = this.buffer.readInt32LE(this.offset);
    if (size < 5 || this.offset + size > limit) {
      throw new WireProtocolError(`BSON document size ${size} overruns the message`);
    }
    try {
      return decodeDocument(this.buffer.subarray(this.offset, this.offset + size));
    } catch (error) {
      throw new WireProtocolError(`invalid BSON document: ${(error as Error).message}`);
    } finally {
      this.offset += size;
    }
  }

  private need(bytes: number): void {
    if (this.offset + bytes > this.buffer.length) throw new WireProtocolError('message truncated');
  }
}
