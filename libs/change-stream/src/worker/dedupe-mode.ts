import type { Logger } from '@nestjs/common';
import type { ResolvedWorkerOptions } from '../interfaces/worker-options.interface';
import type { ChangeHandlerRegistration } from '../handlers/change-handler.registry';

/**
 * The topics whose redeliveries processed-event markers must outlast (MarkerRetentionCheck): all of
 * them in `markers` mode; in `offsets` mode only those of a handler with `transaction: false`, the
 * one kind that still keeps markers. Internal.
 */
export function markerTopics(
  worker: Pick<ResolvedWorkerOptions, 'dedupe'>,
  handlers: readonly ChangeHandlerRegistration[],
): string[] {
  const kept = worker.dedupe === 'offsets' ? handlers.filter((handler) => !handler.transaction) : handlers;
  return [...new Set(kept.map((handler) => handler.topic))];
}

/** The part of a kafkajs message that says whether a Kafka transaction wrote it (kafkajs 2 decodes it, untyped). */
interface WithBatchContext {
  batchContext?: { inTransaction?: boolean };
}

/**
 * `offsets` mode's run-time check of what its README section asks: that the topic is written by an
 * exactly-once (transactional) producer. A message outside any Kafka transaction comes from another
 * producer, and a second copy of it at another offset would take effect twice: says so once per
 * partition, as an error, and goes on (the worker cannot tell a copy from a new event). Internal.
 */
export class UntransactionalMessageWarning {
  private readonly warned = new Set<string>();

  constructor(
    private readonly worker: Pick<ResolvedWorkerOptions, 'dedupe'>,
    private readonly logger: Logger,
  ) {}

  check(topic: string, partition: number, messages: readonly object[]): void {
    if (this.worker.dedupe !== 'offsets') return;
    const key = `${topic}[${partition}]`;
    if (this.warned.has(key)) return;
    const plain = messages.find(
      (message) => (message as WithBatchContext).batchContext?.inTransaction === false,
    );
    if (!plain) return;
    this.warned.add(key);
    this.logger.error(
      `worker.dedupe 'offsets': ${key}@${(plain as { offset?: string }).offset} was not written in a Kafka transaction; offsets mode skips redeliveries of one offset only, so a copy of an event at another offset (an at-least-once relay's republish) would take effect twice. Feed this topic from a relay with relay.delivery 'exactly-once', or use worker.dedupe 'markers'.`,
    );
  }
}
