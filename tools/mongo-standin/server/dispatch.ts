/**
 * Runs one command the way mongod does around the handler: fail points, primary check, the
 * transaction allowlist, session and transaction resolution, retryable-write replay, change-event
 * recording, write concern (write-concern.ts), error labels (../errors/labels.ts), and `$clusterTime` /
 * `operationTime` on every reply.
 */
import { Binary, Long, type Document } from 'bson';
import {
  COMMANDS,
  TRANSACTION_END_COMMANDS,
  type ClientInfo,
  type CommandDefinition,
  type Services,
} from '../commands';
import { ErrorCodes, MongoServerError, serverError } from '../errors/server-error';
import type { FailCommandData } from '../services/failpoints';
import { checkAllowedInTransaction } from '../commands/transactions';
import { automaticLabels, type CommandTraits } from '../errors/labels';
import { txnNumberOf, type ServerSession } from '../services/sessions';
import type { Transaction } from '../storage/transaction';
import { Writer } from '../storage/writer';
import type { WireRequest } from '../wire/protocol';
import { unsatisfiedWriteConcern } from './write-concern';

/** Returned instead of a reply when the connection must be closed without answering. */
export const CLOSE_CONNECTION = Symbol('closeConnection');

const ZERO_SIGNATURE = { hash: new Binary(Buffer.alloc(20)), keyId: Long.fromNumber(0) };

export class Dispatcher {
  constructor(
    private readonly services: Services,
    private readonly commands = COMMANDS,
  ) {}

  /** The reply to a request (with cluster time), or CLOSE_CONNECTION. Never throws. */
  async dispatch(request: WireRequest, client: ClientInfo): Promise<Document | typeof CLOSE_CONNECTION> {
    const name = Object.keys(request.command)[0] ?? '';
    const definition = Object.hasOwn(this.commands, name) ? this.commands[name] : undefined;
    const traits = traitsOf(name, request.command, definition);
    let reply: Document;
    try {
      const failure = this.services.failPoints.failCommand(name, client.appName);
      if (failure?.blockConnection) await delay(failure.blockTimeMS ?? 0);
      if (failure?.closeConnection) return CLOSE_CONNECTION;
      if (failure?.errorCode !== undefined) {
        const error = serverError(failure.errorCode, "Failing command via 'failCommand' failpoint");
        return this.withClusterTime(errorReply(error, traits, failure.errorLabels));
      }
      reply = await this.execute(definition, request, client, traits);
      const writeConcernError = failure?.writeConcernError ?? unsatisfied(definition, request.command);
      if (writeConcernError) reply = withWriteConcernError(reply, writeConcernError, failure, traits);
    } catch (error) {
      reply = errorReply(error, traits);
    }
    return this.withClusterTime(reply);
  }

  private async execute(
    definition: CommandDefinition | undefined,
    request: WireRequest,
    client: ClientInfo,
    traits: CommandTraits,
  ): Promise<Document> {
    const { command, db } = request;
    if (!definition) throw serverError(ErrorCodes.CommandNotFound, `no such command: '${traits.name}'`);
    if (definition.adminOnly && db !== 'admin') {
      throw serverError(
        ErrorCodes.Unauthorized,
        `${traits.name} may only be run against the admin database.`,
      );
    }
    if (definition.write && !this.services.primary.isWritablePrimary) {
      throw serverError(ErrorCodes.NotWritablePrimary, 'not primary');
    }

    if (traits.inTransaction) checkAllowedInTransaction(traits.name, db, command);
    const session = command.lsid ? this.services.sessions.get(command.lsid) : undefined;
    const txnNumber = txnNumberOf(command);
    const txn = traits.inTransaction ? this.transactionOf(session, txnNumber, command, traits) : undefined;
    if (traits.retryableWrite && session && txnNumber !== undefined) {
      const recorded = session.retriedWriteReply(txnNumber);
      if (recorded) return recorded;
    }

    const writer = new Writer(
      this.services.store,
      txn && { txn, lsid: command.lsid, txnNumber: Long.fromNumber(txnNumber!) },
    );
    let reply: Document;
    try {
      const deadline = deadlineOf(command);
      reply = await definition.run({ services: this.services, db, command, client, txn, writer, deadline });
    } catch (error) {
      txn?.abort();
      throw error;
    } finally {
      if (writer.events.length) this.services.engine.record(writer.events);
    }
    if (traits.retryableWrite && session && txnNumber !== undefined) {
      session.recordWriteReply(txnNumber, reply);
    }
    return reply;
  }

  private transactionOf(
    session: ServerSession | undefined,
    txnNumber: number | undefined,
    command: Document,
    traits: CommandTraits,
  ): Transaction {
    if (!session || txnNumber === undefined) {
      throw serverError(
        ErrorCodes.InvalidOptions,
        "'autocommit: false' requires a session (lsid) and a txnNumber",
      );
    }
    const txn = session.transactionFor(txnNumber, command.startTransaction === true);
    if (txn.state === 'committed' && !traits.endsTransaction) {
      throw serverError(ErrorCodes.TransactionCommitted, `Transaction ${txnNumber} has been committed.`);
    }
    return txn;
  }

  private withClusterTime(reply: Document): Document {
    const clusterTime = this.services.engine.clusterTime();
    return { ...reply, $clusterTime: { clusterTime, signature: ZERO_SIGNATURE }, operationTime: clusterTime };
  }
}

function traitsOf(name: string, command: Document, definition: CommandDefinition | undefined): CommandTraits {
  const inTransaction = command.autocommit === false;
  return {
    name,
    retryableWrite: !!definition?.write && command.txnNumber !== undefined && !inTransaction,
    endsTransaction: TRANSACTION_END_COMMANDS.has(name),
    inTransaction,
  };
}

/** An error reply; `explicitLabels` (a fail point's errorLabels) replace the automatic ones. */
function errorReply(error: unknown, traits: CommandTraits, explicitLabels?: string[]): Document {
  const serverErr =
    error instanceof MongoServerError
      ? error
      : serverError(ErrorCodes.InternalError, (error as Error)?.message ?? String(error));
  const labels = explicitLabels ?? [
    ...new Set([...serverErr.errorLabels, ...automaticLabels(traits, serverErr.code)]),
  ];
  const { errorLabels: _ignored, ...reply } = serverErr.toReply();
  return labels.length ? { ...reply, errorLabels: labels } : reply;
}

/** The writeConcernError of a write or command (not of an error reply) whose write concern this set cannot satisfy. */
function unsatisfied(definition: CommandDefinition | undefined, command: Document): Document | undefined {
  return definition?.write ? unsatisfiedWriteConcern(command) : undefined;
}

function withWriteConcernError(
  reply: Document,
  writeConcernError: Document,
  failure: FailCommandData | undefined,
  traits: CommandTraits,
): Document {
  if (reply.ok !== 1) return reply;
  const labels = failure?.errorLabels ?? automaticLabels(traits, undefined, Number(writeConcernError.code));
  return { ...reply, writeConcernError, ...(labels.length ? { errorLabels: labels } : {}) };
}

/** When the command's maxTimeMS runs out (ms since the epoch); undefined without one (0 is none). */
function deadlineOf(command: Document): number | undefined {
  const maxTimeMS = Number(command.maxTimeMS ?? 0);
  return Number.isFinite(maxTimeMS) && maxTimeMS > 0 ? Date.now() + maxTimeMS : undefined;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
