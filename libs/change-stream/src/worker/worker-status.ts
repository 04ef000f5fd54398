import type { IMemberAssignment } from 'kafkajs';
import type { WorkerRestart } from './worker-supervisor';
import type { DeadLetterCount } from './dead-letter';

/** What the worker is doing, for health checks. */
export interface WorkerStatus {
  /**
   * `off`: worker role off or no handlers. `restarting`: kafkajs gave up on the consumer and
   * a new one is being brought up (see `restart`). `draining`/`stopped`: shutdown.
   */
  state: 'off' | 'starting' | 'running' | 'restarting' | 'draining' | 'stopped';
  groupId: string;
  topics: string[];
  /** Partitions assigned at the last group join, by topic. */
  assignment: IMemberAssignment;
  /**
   * Messages every handler is done with (applied, skipped as duplicate or filtered, or
   * dead-lettered), whose offsets were resolved, since start. Each message counts once per delivery,
   * however often a handler ran for it.
   */
  completedMessages: number;
  /** Messages whose effects committed in a shared transaction (`worker.batchSize`), since start. */
  sharedMessages: number;
  /**
   * Shared transactions that failed for a reason no handler caused (a write conflict, a redelivered
   * message) and whose messages then ran one transaction each, since start.
   */
  sharedFallBacks: number;
  /** Dead letters stored since start, by reason and handler (undecodable ones included). */
  deadLetters: DeadLetterCount[];
  /** While `restarting`: why, since when, which attempt; null otherwise. */
  restart: WorkerRestart | null;
  /** Consumers recreated after kafkajs gave up on one, since start. */
  restarts: number;
}
