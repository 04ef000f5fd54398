import { FencedOutError } from './fenced-out.error';

/**
 * Kafka fenced the exactly-once relay's transactional producer (PRODUCER_FENCED,
 * INVALID_PRODUCER_EPOCH, INVALID_PRODUCER_ID_MAPPING): another replica's InitProducerId with the
 * stream's `transactional.id` took over, and the broker aborted this producer's open transaction.
 * Like FencedOutError, it ends the term at once: no retry of the batch.
 */
export class ProducerFencedError extends FencedOutError {
  constructor(
    stream: string,
    epoch: number,
    /** kafkajs' error type. */
    readonly type: string,
    override readonly cause?: unknown,
  ) {
    super(stream, epoch);
    this.message = `Producer of stream "${stream}" fenced for epoch ${epoch} (${type}): a newer leader took over`;
    this.name = 'ProducerFencedError';
  }
}
