import type { ICustomPartitioner } from 'kafkajs';
import { CHANGE_EVENT_HEADERS } from '../events/change-event.headers';
import { murmur2Partitioner } from './murmur2-partitioner';

/**
 * Wraps a partitioner (the producer's own, else the Java-compatible murmur2 default) so that a message
 * carrying the `cdc-partition` header goes to that partition: resnapshot markers are sent to every
 * partition of a topic this way. Every other message is partitioned by `base` as before.
 */
export function explicitPartitioner(base: ICustomPartitioner = murmur2Partitioner): ICustomPartitioner {
  return () => {
    const partitionOf = base();
    return (args) => {
      const raw = args.message.headers?.[CHANGE_EVENT_HEADERS.partition];
      const text = Array.isArray(raw) ? raw[0] : raw;
      const partition = text === undefined ? NaN : Number(text.toString());
      return Number.isInteger(partition) ? partition : partitionOf(args);
    };
  };
}
