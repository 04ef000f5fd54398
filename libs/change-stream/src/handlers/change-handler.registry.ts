import { Injectable } from '@nestjs/common';
import type { ChangeEvent, ChangeOperationType } from '../events/change-event.interface';
import type { RetryPolicy } from '../interfaces/worker-options.interface';
import { ChangeBatchContext, type ChangeContext } from './change-context';
import type { HandlerRoute } from './handler-route';

/** Calls the handler method through Nest's enhancers (guards, interceptors, pipes, filters). */
export type HandlerInvoker = (event: ChangeEvent, ctx: ChangeContext) => Promise<unknown>;

/** Calls a @ChangeBatchHandler method through Nest's enhancers. */
export type BatchHandlerInvoker = (
  events: readonly ChangeEvent[],
  ctx: ChangeBatchContext,
) => Promise<unknown>;

/** A batch handler called with one event (retried alone): an array of that event, with its context. */
export function singleEventInvoker(invokeBatch: BatchHandlerInvoker): HandlerInvoker {
  return (event, ctx) => invokeBatch([event], ChangeBatchContext.single(ctx));
}

/** One discovered @ChangeHandler, ready to dispatch to. Internal. */
export interface ChangeHandlerRegistration extends HandlerRoute {
  /** Stable id: part of the processed-event marker and of the idempotency key. */
  id: string;
  /** `<ClassName>.<methodName>`, for logs and errors. */
  label: string;
  /** null: every operation type. */
  operationTypes: ReadonlySet<ChangeOperationType> | null;
  filter: ((event: ChangeEvent) => boolean) | undefined;
  retry: RetryPolicy;
  transaction: boolean;
  /** Calls the handler with one event (a batch handler: with an array of that one event). */
  invoke: HandlerInvoker;
  /** Set for a @ChangeBatchHandler: calls it with the events of a shared transaction. */
  invokeBatch?: BatchHandlerInvoker;
}

/**
 * Whether the handler wants the event: its `operationTypes`, then its `filter`. A filter may throw;
 * the caller counts that as a failed attempt of the handler.
 */
export function handlerWants(handler: ChangeHandlerRegistration, event: ChangeEvent): boolean {
  if (handler.operationTypes && !handler.operationTypes.has(event.operationType)) return false;
  return !handler.filter || handler.filter(event);
}

/** The discovered handlers, by topic, in discovery order. Filled once by the explorer. Internal. */
@Injectable()
export class ChangeHandlerRegistry {
  private readonly byTopic = new Map<string, ChangeHandlerRegistration[]>();
  private explored = false;

  /** Whether discovery ran (the explorer registers in onModuleInit). */
  get ready(): boolean {
    return this.explored;
  }

  /** Adds handlers (the explorer calls it once, at module init). */
  register(registrations: readonly ChangeHandlerRegistration[]): void {
    this.explored = true;
    for (const registration of registrations) {
      const list = this.byTopic.get(registration.topic) ?? [];
      list.push(registration);
      this.byTopic.set(registration.topic, list);
    }
  }

  /** The topics this worker must subscribe to: those of its handlers, and no other. */
  topics(): string[] {
    return [...this.byTopic.keys()];
  }

  /** The handlers of a topic, in discovery order. */
  forTopic(topic: string): readonly ChangeHandlerRegistration[] {
    return this.byTopic.get(topic) ?? [];
  }

  /** Every handler. */
  all(): ChangeHandlerRegistration[] {
    return [...this.byTopic.values()].flat();
  }
}
