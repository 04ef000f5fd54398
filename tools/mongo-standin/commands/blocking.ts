/**
 * Writes outside a transaction that meet an open transaction's write: mongod retries the write
 * conflict until that transaction ends, then applies the write on what it committed; past the
 * command's maxTimeMS it fails with MaxTimeMSExpired (50).
 */
import { WriteBlocked } from '../storage/locks';
import type { CommandContext } from './context';

/**
 * Runs a write step; each time an open transaction blocks it, waits for that transaction to end
 * and runs the step again. A step must change nothing before it throws WriteBlocked (the writer
 * checks before it applies), so running it again is safe.
 */
export async function retryWhileBlocked<T>(context: CommandContext, step: () => T): Promise<T> {
  for (;;) {
    try {
      return step();
    } catch (error) {
      if (!(error instanceof WriteBlocked)) throw error;
      await context.services.sessions.waitForEnd(error.holder, context.deadline);
    }
  }
}
