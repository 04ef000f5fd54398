/** saslStart / saslContinue: SCRAM-SHA-256 against the stand-in's users (see ../services/scram.ts). */
import type { CommandTable } from './context';

export const authCommands: CommandTable = {
  saslStart: {
    run: ({ services, client, db, command }) => services.auth.start(client.connectionId, db, command),
  },
  saslContinue: {
    run: ({ services, client, command }) => services.auth.continue(client.connectionId, command),
  },
};
