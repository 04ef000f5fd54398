/**
 * The MongoDB stand-in server: a TCP listener posing as the primary of a one-node replica set
 * `rs0`, with the fault controls tests use (close connections, step down, pause, truncate oplog).
 */
import { createServer, type Server } from 'node:net';
import type { Services } from '../commands';
import { Connection, PauseGate } from './connection';
import type { ChangeStreamEngine, ChangeStreamHost } from '../change-streams/contract';
import { CursorRegistry } from '../services/cursors';
import { Dispatcher } from './dispatch';
import { FailPoints } from '../services/failpoints';
import { PrimaryState } from '../services/primary';
import { ScramAuthenticator } from '../services/scram';
import { SessionRegistry } from '../services/sessions';
import { Store } from '../storage/store';

/** An engine the server can release on stop (the real one has close()). */
export type ClosableEngine = ChangeStreamEngine & { close?(): void };

export interface MongoStandinServerOptions {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Builds the change-stream engine over the server's storage. */
  createEngine(host: ChangeStreamHost): ClosableEngine;
  /** mongod's transactionLifetimeLimitSeconds (default 60; setParameter changes it at runtime). */
  transactionLifetimeLimitSeconds?: number;
  /** Users (name -> password, in `admin`) that SCRAM-SHA-256 authenticates; default none. */
  users?: Record<string, string>;
}

export class MongoStandinServer {
  private readonly connections = new Set<Connection>();
  private readonly gate = new PauseGate();
  private readonly services: Services & { engine: ClosableEngine };
  private readonly dispatcher: Dispatcher;
  private nextConnectionId = 1;

  private constructor(
    private readonly listener: Server,
    private readonly host: string,
    options: MongoStandinServerOptions,
  ) {
    const store = new Store();
    const stats = { current: 0, totalCreated: 0 };
    this.services = {
      store,
      engine: options.createEngine(store),
      cursors: new CursorRegistry(),
      sessions: new SessionRegistry((options.transactionLifetimeLimitSeconds ?? 60) * 1000),
      failPoints: new FailPoints(),
      primary: new PrimaryState(() => this.address),
      auth: new ScramAuthenticator(options.users),
      address: () => this.address,
      connections: stats,
      startedAt: new Date(),
    };
    this.dispatcher = new Dispatcher(this.services);
    listener.on('connection', (socket) => {
      const connection = new Connection(
        socket,
        this.nextConnectionId++,
        (request, client) => this.dispatcher.dispatch(request, client),
        this.gate,
      );
      this.connections.add(connection);
      stats.current++;
      stats.totalCreated++;
      socket.once('close', () => {
        this.connections.delete(connection);
        stats.current--;
      });
    });
  }

  /** Starts listening; rejects (e.g. EADDRINUSE) when the port cannot be bound. */
  static async start(options: MongoStandinServerOptions): Promise<MongoStandinServer> {
    const host = options.host ?? '127.0.0.1';
    const listener = createServer();
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(options.port, host, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    return new MongoStandinServer(listener, host, options);
  }

  get port(): number {
    const address = this.listener.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /** "127.0.0.1:<port>", as hello reports it. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** Drops every client connection (the clients see network errors). */
  closeAllConnections(): void {
    for (const connection of this.connections) connection.close();
  }

  /** Becomes a secondary for `ms` (writes answer NotWritablePrimary, change-stream getMores are interrupted), then primary again. */
  stepDown(ms: number): void {
    this.services.primary.stepDown(ms);
  }

  /** Writes outside a transaction now waiting for an open transaction to end. */
  blockedWrites(): number {
    return this.services.sessions.blockedWrites;
  }

  /** Drops the retained oplog: change streams resuming from before now fail with ChangeStreamHistoryLost. */
  truncateOplog(): void {
    this.services.engine.truncate();
  }

  /** Stops answering and reading, as a SIGSTOPped mongod: requests wait, and are answered after resume(). */
  pause(): void {
    this.gate.pause();
    for (const connection of this.connections) connection.pause();
  }

  resume(): void {
    for (const connection of this.connections) connection.resume();
    this.gate.resume();
  }

  /** Closes the listener and every connection, cursor and session; releases the engine. */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    this.closeAllConnections();
    this.gate.resume();
    this.services.cursors.closeAll();
    this.services.sessions.endAll();
    this.services.engine.close?.();
    await closed;
  }
}
