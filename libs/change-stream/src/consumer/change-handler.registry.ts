import { Injectable } from '@nestjs/common';
import type { ChangeEvent, ChangeOperationType } from '../events/change-event.interface';
import type { RetryPolicy } from '../interfaces/worker-options.interface';
import type { ChangeContext } from './change-context';
import type { HandlerRoute } from './handler-route';

/** Calls the handler method through Nest's enhancers (guards, interceptors, pipes, filters). */
export type HandlerInvoker = (event: ChangeEvent, ctx: ChangeContext) => Promise<unknown>;

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
  invoke: HandlerInvoker;
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
