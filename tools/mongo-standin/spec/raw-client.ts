/**
 * A bare wire-protocol client for tests that must control exact bytes (malformed messages,
 * moreToCome, a write re-sent with the same lsid/txnNumber), where the driver would not cooperate.
 */
import { connect, type Socket } from 'node:net';
import type { Document } from 'bson';
import { decodeMsgBody, encodeMsg, MessageFramer } from '../wire/protocol';

export class RawMongoClient {
  private readonly framer = new MessageFramer();
  private readonly pending: Array<(reply: Document) => void> = [];
  private nextRequestId = 1;
  /** Resolves when the server closes the connection. */
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk) => {
      for (const message of this.framer.push(chunk)) this.pending.shift()?.(decodeMsgBody(message));
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static connect(port: number): Promise<RawMongoClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new RawMongoClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends an OP_MSG command and resolves with the reply body. */
  command(body: Document): Promise<Document> {
    const reply = this.nextReply();
    this.socket.write(encodeMsg(this.nextRequestId++, 0, body));
    return reply;
  }

  /** Resolves with the body of the next reply not yet claimed (replies arrive in request order). */
  nextReply(): Promise<Document> {
    return new Promise<Document>((resolve) => this.pending.push(resolve));
  }

  /** Sends an OP_MSG with the given flag bits and expects no reply. */
  send(body: Document, flags: number): void {
    this.socket.write(encodeMsg(this.nextRequestId++, 0, body, flags));
  }

  /** Writes raw bytes (claim a reply, if one is due, with {@link nextReply}). */
  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  close(): void {
    this.socket.destroy();
  }
}
