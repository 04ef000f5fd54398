/**
 * Handshake, monitoring and administration: hello / isMaster, ping, buildInfo, getParameter,
 * setParameter (transactionLifetimeLimitSeconds), serverStatus, sessions housekeeping,
 * configureFailPoint.
 */
import type { Document } from 'bson';
import { ErrorCodes, serverError } from '../errors/server-error';
import { MAX_BSON_OBJECT_SIZE, MAX_MESSAGE_SIZE } from '../wire/protocol';
import type { CommandContext, CommandTable, Services } from './context';

export const SERVER_VERSION = '7.0.14';
const MAX_WIRE_VERSION = 21;

function hello(context: CommandContext): Document {
  const { command, client, services } = context;
  if (command.client?.application?.name && client.appName === undefined) {
    client.appName = command.client.application.name;
  }
  // NOTE: no topologyVersion: the driver then polls hello instead of streaming it (exhaust).
  return {
    ...(command.helloOk ? { helloOk: true } : {}),
    ...services.primary.helloFields(),
    ...services.auth.helloFields(command),
    ...(Object.keys(command)[0] === 'hello' ? {} : { ismaster: services.primary.isWritablePrimary }),
    maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
    maxMessageSizeBytes: MAX_MESSAGE_SIZE,
    maxWriteBatchSize: 100_000,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId: client.connectionId,
    minWireVersion: 0,
    maxWireVersion: MAX_WIRE_VERSION,
    readOnly: false,
    ok: 1,
  };
}

/** The server parameters getParameter shows; setParameter changes transactionLifetimeLimitSeconds. */
const parametersOf = (services: Services): Record<string, unknown> => ({
  featureCompatibilityVersion: { version: '7.0' },
  transactionLifetimeLimitSeconds: services.sessions.transactionLifetimeLimitMs / 1000,
  maxTransactionLockRequestTimeoutMillis: 5,
});

function getParameter(context: CommandContext): Document {
  const { command } = context;
  const parameters = parametersOf(context.services);
  const wanted =
    command.getParameter === '*'
      ? Object.keys(parameters)
      : Object.keys(command).filter((key) => key in parameters);
  if (!wanted.length) throw serverError(ErrorCodes.InvalidOptions, 'no option found to get');
  return { ...Object.fromEntries(wanted.map((key) => [key, parameters[key]])), ok: 1 };
}

/** setParameter for transactionLifetimeLimitSeconds (an integer >= 1, as mongod accepts); answers the old value. */
function setParameter(context: CommandContext): Document {
  const { command, services } = context;
  if (command.transactionLifetimeLimitSeconds === undefined) {
    throw serverError(
      ErrorCodes.InvalidOptions,
      'no option found to set (the stand-in sets transactionLifetimeLimitSeconds)',
    );
  }
  const seconds = Number(command.transactionLifetimeLimitSeconds);
  if (!Number.isInteger(seconds) || seconds < 1) {
    throw serverError(
      ErrorCodes.BadValue,
      'transactionLifetimeLimitSeconds must be greater than or equal to 1',
    );
  }
  const was = services.sessions.transactionLifetimeLimitMs / 1000;
  services.sessions.transactionLifetimeLimitMs = seconds * 1000;
  return { was, ok: 1 };
}

function serverStatus(context: CommandContext): Document {
  const { services } = context;
  const uptimeMillis = Date.now() - services.startedAt.getTime();
  return {
    host: services.address(),
    version: SERVER_VERSION,
    process: 'mongod',
    pid: process.pid,
    uptime: Math.floor(uptimeMillis / 1000),
    uptimeMillis,
    localTime: new Date(),
    connections: {
      current: services.connections.current,
      available: 838_860,
      totalCreated: services.connections.totalCreated,
    },
    repl: { ...services.primary.helloFields() },
    storageEngine: { name: 'inMemory', supportsCommittedReads: true, persistent: false },
    ok: 1,
  };
}

export const serverInfoCommands: CommandTable = {
  hello: { run: hello },
  isMaster: { run: hello },
  ismaster: { run: hello },
  ping: { run: () => ({ ok: 1 }) },
  buildInfo: {
    run: () => ({
      version: SERVER_VERSION,
      versionArray: SERVER_VERSION.split('.').map(Number).concat(0),
      gitVersion: 'standin',
      bits: 64,
      maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
      storageEngines: ['inMemory'],
      modules: [],
      ok: 1,
    }),
  },
  getParameter: { run: getParameter, adminOnly: true },
  setParameter: { run: setParameter, adminOnly: true },
  serverStatus: { run: serverStatus },
  whatsmyuri: { run: () => ({ you: '127.0.0.1', ok: 1 }) },
  connectionStatus: {
    run: () => ({ authInfo: { authenticatedUsers: [], authenticatedUserRoles: [] }, ok: 1 }),
  },
  replSetGetStatus: {
    adminOnly: true,
    run: ({ services }) => ({
      set: services.primary.helloFields().setName,
      myState: services.primary.isWritablePrimary ? 1 : 2,
      members: [
        {
          _id: 0,
          name: services.address(),
          health: 1,
          state: services.primary.isWritablePrimary ? 1 : 2,
          self: true,
        },
      ],
      ok: 1,
    }),
  },
  endSessions: {
    run: ({ command, services }) => {
      for (const lsid of (command.endSessions as Document[]) ?? []) services.sessions.end(lsid);
      return { ok: 1 };
    },
  },
  // As mongod: kills the listed sessions (every session when the list is empty), aborting their transactions.
  killSessions: {
    run: ({ command, services }) => {
      const lsids = (command.killSessions as Document[]) ?? [];
      if (lsids.length === 0) services.sessions.endAll();
      for (const lsid of lsids) services.sessions.end(lsid);
      return { ok: 1 };
    },
  },
  killAllSessions: {
    run: ({ services }) => {
      services.sessions.endAll();
      return { ok: 1 };
    },
  },
  configureFailPoint: {
    adminOnly: true,
    run: ({ command, services }) => ({ count: services.failPoints.configure(command), ok: 1 }),
  },
};
