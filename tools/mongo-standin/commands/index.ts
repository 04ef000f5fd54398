/** Every command the stand-in answers, by name. */
import { authCommands } from './auth';
import { catalogCommands } from './catalog';
import type { CommandTable } from './context';
import { indexCommands } from './indexes';
import { readCommands } from './read';
import { serverInfoCommands } from './server-info';
import { transactionCommands } from './transactions';
import { writeCommands } from './write';

export const COMMANDS: CommandTable = {
  ...serverInfoCommands,
  ...readCommands,
  ...writeCommands,
  ...catalogCommands,
  ...indexCommands,
  ...transactionCommands,
  ...authCommands,
};

export { TRANSACTION_END_COMMANDS } from './transactions';
export type { ClientInfo, CommandContext, CommandDefinition, CommandTable, Services } from './context';
