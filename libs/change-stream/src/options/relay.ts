/** The `relay` section: batching, backpressure, checkpoints, backoff, delivery and health limits. */
import type { ResolvedChangeStreamOptions } from '../interfaces/change-stream-options.interface';
import { optionalInt, optionalOneOf, section } from '../utils/option-validators';
import { resolveBackoff, type DeprecationSink } from './backoff';
import { DEFAULTS } from './defaults';
import { checkedTopic, relayCheckpointTopic, relayDeadLetterTopic } from './routing';

type Relay = ResolvedChangeStreamOptions['relay'];
const d = DEFAULTS.relay;

/** A topic option: `fallback` when unset or null, else a checked topic name. */
const topicOption = (value: unknown, path: string, fallback: string): string =>
  value === undefined || value === null ? fallback : checkedTopic(value as string, path);

/** The `relay` section with its defaults; `topicPrefix` names the relay's own topics. */
export function resolveRelay(value: unknown, topicPrefix: string, deprecated: DeprecationSink): Relay {
  const relay = section(value, 'relay', false, Object.keys(d)) ?? {};
  const batchSize = optionalInt(relay.batchSize, 'relay.batchSize', 1, 10_000, d.batchSize);
  const maxAwaitTimeMs = optionalInt(
    relay.maxAwaitTimeMs,
    'relay.maxAwaitTimeMs',
    10,
    60_000,
    d.maxAwaitTimeMs,
  );
  const checkpointIntervalMs = optionalInt(
    relay.checkpointIntervalMs,
    'relay.checkpointIntervalMs',
    0,
    600_000,
    d.checkpointIntervalMs,
  );
  return {
    batchSize,
    maxInFlightEvents: optionalInt(
      relay.maxInFlightEvents,
      'relay.maxInFlightEvents',
      batchSize,
      1_000_000,
      Math.max(batchSize, d.maxInFlightEvents),
    ),
    maxInFlightBytes: optionalInt(
      relay.maxInFlightBytes,
      'relay.maxInFlightBytes',
      1024,
      2 ** 31,
      d.maxInFlightBytes,
    ),
    maxAwaitTimeMs,
    checkpointIntervalMs,
    backoff: resolveBackoff(relay.backoff, 'relay.backoff', d.backoff, deprecated),
    shutdownTimeoutMs: optionalInt(
      relay.shutdownTimeoutMs,
      'relay.shutdownTimeoutMs',
      0,
      600_000,
      d.shutdownTimeoutMs,
    ),
    maxBatchBytes: optionalInt(relay.maxBatchBytes, 'relay.maxBatchBytes', 1024, 2 ** 31, d.maxBatchBytes),
    onUnpublishable: optionalOneOf(
      relay.onUnpublishable,
      'relay.onUnpublishable',
      ['fail', 'deadLetter'] as const,
      d.onUnpublishable,
    ),
    deadLetterTopic: topicOption(
      relay.deadLetterTopic,
      'relay.deadLetterTopic',
      relayDeadLetterTopic(topicPrefix),
    ),
    ...resolveDelivery(relay, topicPrefix),
    ...resolveStallLimits(relay, checkpointIntervalMs + maxAwaitTimeMs),
  };
}

/** How the relay delivers to Kafka (exactly-once: transactions with a checkpoint topic). */
function resolveDelivery(
  relay: Record<string, unknown>,
  topicPrefix: string,
): Pick<Relay, 'delivery' | 'transactionTimeoutMs' | 'checkpointTopic'> {
  return {
    delivery: optionalOneOf(
      relay.delivery,
      'relay.delivery',
      ['at-least-once', 'exactly-once'] as const,
      d.delivery,
    ),
    // NOTE: Kafka refuses a timeout above transaction.max.timeout.ms (INVALID_TRANSACTION_TIMEOUT at the first InitProducerId).
    transactionTimeoutMs: optionalInt(
      relay.transactionTimeoutMs,
      'relay.transactionTimeoutMs',
      1_000,
      3_600_000,
      d.transactionTimeoutMs,
    ),
    checkpointTopic: topicOption(
      relay.checkpointTopic,
      'relay.checkpointTopic',
      relayCheckpointTopic(topicPrefix),
    ),
  };
}

/** The health limits of the relay; `cycle` is one checkpoint interval plus one getMore wait. */
function resolveStallLimits(
  relay: Record<string, unknown>,
  cycle: number,
): Pick<Relay, 'maxPublishStallMs' | 'maxCheckpointLagMs'> {
  return {
    maxPublishStallMs: optionalInt(
      relay.maxPublishStallMs,
      'relay.maxPublishStallMs',
      100,
      3_600_000,
      d.maxPublishStallMs,
    ),
    // NOTE: a healthy relay's checkpoint trails what it read by up to one checkpoint cycle: a lower limit would flap.
    maxCheckpointLagMs: optionalInt(
      relay.maxCheckpointLagMs,
      'relay.maxCheckpointLagMs',
      cycle,
      3_600_000,
      Math.max(d.maxCheckpointLagMs, 2 * cycle),
    ),
  };
}
