import type { EffectOutcome } from '../idempotency/effect-executor';

/**
 * What happened to one handler for one message. `filtered`: its operationTypes or filter excluded
 * the event. `interrupted`: shutdown came first; the message stays uncommitted and is redelivered.
 */
export type HandlerOutcome = EffectOutcome | 'filtered' | 'dead-lettered' | 'interrupted';

/** One handler's result for one message. */
export interface HandlerReport {
  handlerId: string;
  outcome: HandlerOutcome;
  /** Attempts made (0 when filtered). */
  attempts: number;
  /** The last error, when an attempt failed. */
  error?: unknown;
}

/** The result of dispatching one message. */
export interface DispatchReport {
  /** True when every handler is done with the message (its offset may be committed). */
  complete: boolean;
  /** Set when the message could not be decoded (it was dead-lettered at once). */
  undecodable?: unknown;
  handlers: HandlerReport[];
}

/** The result of dispatching consecutive messages of one partition. */
export interface BatchDispatchReport {
  /** One report per message, in order, up to and including the first incomplete one. */
  reports: DispatchReport[];
  /** Messages whose transactional effects committed in a shared transaction. */
  shared: number;
  /**
   * True when a shared transaction failed for a reason no handler caused (a write conflict, a
   * redelivered event's marker, an outage, a failed commit) and its messages went one by one.
   */
  fellBack: boolean;
}

/** Lets the worker interrupt retry waits when it drains. */
export interface DispatchControl {
  signal?: AbortSignal;
}
