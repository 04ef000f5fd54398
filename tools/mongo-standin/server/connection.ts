/**
 * One client connection: frames requests off the socket, handles them one at a time in arrival
 * order (as a mongod connection thread does), and writes the replies. A malformed message closes
 * this connection only.
 */
import type { Socket } from 'node:net';
import type { Document } from 'bson';
import type { ClientInfo } from '../commands';
import { CLOSE_CONNECTION } from './dispatch';
import { encodeReply, MessageFramer, parseRequest, type WireRequest } from '../wire/protocol';

/** Holds all request processing and replies while the server is paused (a SIGSTOPped mongod). */
export class PauseGate {
  private closed: Promise<void> | undefined;
  private open: (() => void) | undefined;

  get paused(): boolean {
    return this.closed !== undefined;
  }

  pause(): void {
    this.closed ??= new Promise((resolve) => (this.open = resolve));
  }

  resume(): void {
    this.open?.();
    this.closed = this.open = undefined;
  }

  /** Resolves once the server is not paused. */
  async passed(): Promise<void> {
    while (this.closed) await this.closed;
  }
}

export type RequestHandler = (
  request: WireRequest,
  client: ClientInfo,
) => Promise<Document | typeof CLOSE_CONNECTION>;

let nextResponseId = 1;

export class Connection {
  readonly client: ClientInfo;
  private readonly framer = new MessageFramer();
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly socket: Socket,
    connectionId: number,
    private readonly handle: RequestHandler,
    private readonly gate: PauseGate,
  ) {
    this.client = { connectionId };
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.receive(chunk));
    // NOTE: resets and errors only end this connection; the server never sees them.
    socket.on('error', () => socket.destroy());
    if (gate.paused) socket.pause();
  }

  get closed(): boolean {
    return this.socket.destroyed;
  }

  /** Stops reading (bytes stay in the socket buffers until resume). */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    let messages: Buffer[];
    try {
      messages = this.framer.push(chunk);
    } catch {
      this.close();
      return;
    }
    for (const message of messages) this.queue = this.queue.then(() => this.process(message));
  }

  /** Handles one message; anything unexpected (a malformed message, an unencodable reply) closes the connection. */
  private async process(message: Buffer): Promise<void> {
    await this.gate.passed();
    if (this.closed) return;
    try {
      const request = parseRequest(message);
      const reply = await this.handle(request, this.client);
      if (reply === CLOSE_CONNECTION) return this.close();
      if (request.moreToCome) return;
      const encoded = encodeReply(request, nextResponseId++, reply);
      await this.gate.passed();
      if (!this.closed) this.socket.write(encoded);
    } catch {
      this.close();
    }
  }
}
