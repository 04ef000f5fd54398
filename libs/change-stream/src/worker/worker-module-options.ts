import type {
  ResolvedChangeStreamOptions,
  ResolvedRoles,
} from '../interfaces/change-stream-options.interface';

/**
 * The part of the resolved module options (CHANGE_STREAM_OPTIONS) the worker reads. Internal.
 * Narrow on purpose: the testing kit provides just this much.
 */
export type WorkerModuleOptions = Pick<
  ResolvedChangeStreamOptions,
  'worker' | 'streams' | 'excludeNamespaces'
> & {
  roles: Pick<ResolvedRoles, 'worker'>;
  kafka: Pick<ResolvedChangeStreamOptions['kafka'], 'topicPrefix'>;
  storage: Pick<ResolvedChangeStreamOptions['storage'], 'database' | 'processed'> &
    Partial<Pick<ResolvedChangeStreamOptions['storage'], 'offsets'>>;
};
