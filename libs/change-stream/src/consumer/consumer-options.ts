import type { ResolvedChangeStreamOptions } from '../interfaces/change-stream-options.interface';

/**
 * The part of the resolved module options (CHANGE_STREAM_OPTIONS) the consumer reads. Internal.
 * Narrow on purpose: the testing kit provides just this much.
 */
export type ConsumerOptions = Pick<
  ResolvedChangeStreamOptions,
  'consumer' | 'worker' | 'streams' | 'excludeNamespaces'
> & {
  kafka: Pick<ResolvedChangeStreamOptions['kafka'], 'topicPrefix'>;
  storage: Pick<ResolvedChangeStreamOptions['storage'], 'database' | 'processed'> &
    Partial<Pick<ResolvedChangeStreamOptions['storage'], 'offsets'>>;
};
