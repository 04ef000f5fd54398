/**
 * The MongoDB stand-in's entry point: an in-process server that the real `mongodb` driver and
 * mongoose see as the primary of a one-node replica set `rs0`, with fault injection. `cli.ts` runs
 * one in the foreground. Inside, from the socket down: `server/` (listener, connections, command
 * dispatch, write concern), `commands/`, `services/` (what commands use: cursors, sessions, fail
 * points, the primary's state, auth), `wire/` (message framing), `storage/` (documents, indexes,
 * snapshots, transactions), `change-streams/` (oplog, resume tokens, `$changeStream`;
 * `change-streams/contract.ts` is its seam to the rest) and `errors/` (mongod's errors and labels).
 *
 * @example
 * const mongo = await startMongoStandin();
 * const client = await new MongoClient(mongo.url).connect();
 * ...
 * await client.close();
 * await mongo.stop();
 */
import { withFreePort } from '../launch/ports';
import { createChangeStreamEngine } from './change-streams';
import type { ChangeStreamHost } from './change-streams/contract';
import { MongoStandinServer, type ClosableEngine } from './server/server';

/** Options of {@link startMongoStandin}. */
export interface MongoStandinOptions {
  /** TCP port on 127.0.0.1 (default: a free one). */
  port?: number;
  /** Oplog entries retained (default: the engine's, 100 000). */
  oplogMaxEntries?: number;
  /** Approximate oplog bytes retained (default: unbounded). */
  oplogMaxBytes?: number;
  /** Interval of the periodic no-op oplog writes in ms (default 10 000, as mongod; 0 disables). */
  noopIntervalMs?: number;
  /**
   * mongod's transactionLifetimeLimitSeconds (default 60): how long a transaction left open (by a
   * killed client, say) holds its document locks before the server aborts it.
   */
  transactionLifetimeLimitSeconds?: number;
  /**
   * Users (name -> password, in the `admin` database) whose credentials SCRAM-SHA-256 checks, as
   * mongod does; a client naming any other user, or a wrong password, gets AuthenticationFailed (18).
   */
  users?: Record<string, string>;
  /** Replaces the change-stream engine (for tests of the server half alone). */
  createEngine?: (host: ChangeStreamHost) => ClosableEngine;
}

/** A running stand-in. */
export interface MongoStandin {
  /** `mongodb://127.0.0.1:<port>/?replicaSet=rs0`. */
  readonly url: string;
  readonly port: number;
  /** Closes the listener, every connection and cursor. Safe to call twice. */
  stop(): Promise<void>;
  /** Drops every client connection; clients see network errors and reconnect. */
  closeAllConnections(): void;
  /**
   * Steps down for `ms` milliseconds: hello reports a secondary, writes answer NotWritablePrimary
   * (labelled RetryableWriteError), change-stream getMores InterruptedDueToReplStateChange
   * (labelled ResumableChangeStreamError); then the node is primary again by itself.
   */
  stepDown(ms: number): void;
  /** Writes outside a transaction now waiting for an open transaction to end (tests wait on it). */
  blockedWrites(): number;
  /** Drops the retained oplog (change streams resuming from earlier get ChangeStreamHistoryLost). */
  truncateOplog(): void;
  /** Stops reading and answering, as a SIGSTOPped mongod; requests sent meanwhile are answered after {@link resume}. */
  pause(): void;
  resume(): void;
}

/** Starts a stand-in on a free port (retrying when the port is taken meanwhile) or on `options.port`. */
export async function startMongoStandin(options: MongoStandinOptions = {}): Promise<MongoStandin> {
  const { oplogMaxEntries, oplogMaxBytes, noopIntervalMs, transactionLifetimeLimitSeconds, users } = options;
  const createEngine =
    options.createEngine ??
    ((host: ChangeStreamHost) =>
      createChangeStreamEngine(host, { oplogMaxEntries, oplogMaxBytes, noopIntervalMs }));
  const start = (port: number) =>
    MongoStandinServer.start({ port, createEngine, transactionLifetimeLimitSeconds, users });
  const server = options.port !== undefined ? await start(options.port) : await withFreePort(start);
  let stopped: Promise<void> | undefined;
  return {
    url: `mongodb://${server.address}/?replicaSet=rs0`,
    port: server.port,
    stop: () => (stopped ??= server.stop()),
    closeAllConnections: () => server.closeAllConnections(),
    stepDown: (ms) => server.stepDown(ms),
    blockedWrites: () => server.blockedWrites(),
    truncateOplog: () => server.truncateOplog(),
    pause: () => server.pause(),
    resume: () => server.resume(),
  };
}
