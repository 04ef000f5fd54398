import type { Document } from 'bson';
import { CHANGE_HANDLER_METADATA } from '../change-stream.constants';
import type { ChangeEvent, ChangeOperationType } from '../events/change-event.interface';
import type { RetryPolicy } from '../interfaces/worker-options.interface';

/** Options of {@link ChangeHandler}. */
export interface ChangeHandlerOptions<T extends Document = Document> {
  /** Only events of these operation types reach the handler. Default: every type. */
  operationTypes?: readonly ChangeOperationType[];
  /**
   * A further filter, run after `operationTypes`; the handler runs when it returns true. A filter
   * that throws counts as a failed attempt (retried, then dead-lettered).
   */
  filter?: (event: ChangeEvent<T>) => boolean;
  /** Overrides parts of `worker.retry` for this handler. */
  retry?: Partial<RetryPolicy>;
  /**
   * true (default `worker.transaction`, itself true): the handler runs inside a MongoDB transaction
   * together with its processed-event marker, so its writes through `ctx.session` take effect once.
   * false: for handlers whose effect is outside MongoDB (email, webhook); the marker is written
   * after the handler returns and `ctx.idempotencyKey` lets the receiving side drop repeats.
   */
  transaction?: boolean;
  /** Database of `collection`. Default: `worker.database`, else the one watched stream of that collection. */
  database?: string;
  /** Consume this topic instead of the collection's topic (e.g. a stream published under a custom name). */
  topic?: string;
  /**
   * Stable handler id: part of the processed-event marker and of `ctx.idempotencyKey`.
   * Default `<ClassName>.<methodName>`. Set it before renaming the class or the method, or the
   * events in flight during the deploy are treated as new by the renamed handler.
   */
  id?: string;
}

/** What @ChangeHandler / @ChangeBatchHandler store on a method (one entry per decorator; a method may carry several). */
export interface ChangeHandlerMetadata extends ChangeHandlerOptions {
  collection: string;
  /** Set by @ChangeBatchHandler: the method receives an array of events and a ChangeBatchContext. */
  batch?: boolean;
}

/**
 * Marks a provider method as a handler of the change events of `collection`. The method receives
 * `(event: ChangeEvent<T>, ctx: ChangeContext)` on worker replicas (the worker role). Several
 * handlers may watch one collection; one method may carry several `@ChangeHandler` decorators.
 *
 * @example
 * @Injectable()
 * export class OrderTotals {
 *   @ChangeHandler<Order>('orders', { operationTypes: ['insert', 'update'] })
 *   async onOrder(event: ChangeEventOf<Order, 'insert' | 'update'>, ctx: ChangeContext) {
 *     await this.totals.updateOne({ _id: event.documentKey._id }, { $inc: { n: 1 } }, { session: ctx.session });
 *   }
 * }
 */
export function ChangeHandler<T extends Document = Document>(
  collection: string,
  options: ChangeHandlerOptions<T> = {},
): MethodDecorator {
  return handlerDecorator({ ...(options as ChangeHandlerOptions), collection });
}

/**
 * Like {@link ChangeHandler}, but the method receives the events of several consecutive messages of
 * one partition at once, in their order: `(events: ChangeEvent<T>[], ctx: ChangeBatchContext)`.
 * It runs inside the shared transaction of those messages (`worker.batchSize`), together with all
 * their processed-event markers, so one call can read and write the read models of the whole batch
 * in a few commands (one `find` with `$in`, one `bulkWrite`) instead of a round trip per event.
 *
 * - `operationTypes` and `filter` apply per event; an event they exclude is not in the array.
 * - A redelivered event is never in the array (its marker exists): exactly-once as for @ChangeHandler.
 * - When the call throws, nothing of the batch is applied and each event is retried alone (an array
 *   of one, with `ctx.attempt` counting), then dead-lettered: one bad event cannot hold back the others.
 * - Always transactional: `transaction: false` is refused at start-up.
 *
 * @example
 * @ChangeBatchHandler<Order>('orders')
 * async apply(events: ChangeEvent<Order>[], ctx: ChangeBatchContext) {
 *   await this.views.bulkWrite(events.map(toViewWrite), { session: ctx.session });
 * }
 */
export function ChangeBatchHandler<T extends Document = Document>(
  collection: string,
  options: ChangeBatchHandlerOptions<T> = {},
): MethodDecorator {
  return handlerDecorator({ ...(options as ChangeHandlerOptions), collection, batch: true });
}

/** Options of {@link ChangeBatchHandler}: those of @ChangeHandler; `transaction` can only be true. */
export type ChangeBatchHandlerOptions<T extends Document = Document> = Omit<
  ChangeHandlerOptions<T>,
  'transaction'
> & { transaction?: true };

function handlerDecorator(entry: ChangeHandlerMetadata): MethodDecorator {
  return (_target, _key, descriptor) => {
    const method = descriptor.value as object;
    const existing: ChangeHandlerMetadata[] = Reflect.getMetadata(CHANGE_HANDLER_METADATA, method) ?? [];
    // NOTE: decorators apply bottom-up; unshift keeps the entries in source order.
    Reflect.defineMetadata(CHANGE_HANDLER_METADATA, [entry, ...existing], method);
    return descriptor;
  };
}
