import type { ResolvedChangeStreamOptions } from '../interfaces/change-stream-options.interface';

/**
 * The part of the resolved module options (CHANGE_STREAM_OPTIONS) that registering a handler reads:
 * `worker` (retry, transaction, database) and what decides its topic. Internal.
 */
export type HandlerOptions = Pick<ResolvedChangeStreamOptions, 'worker' | 'streams' | 'excludeNamespaces'> & {
  kafka: Pick<ResolvedChangeStreamOptions['kafka'], 'topicPrefix'>;
};
