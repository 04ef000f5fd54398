import { InvalidChangeHandlerError } from '../errors/invalid-change-handler.error';
import { CHANGE_OPERATION_TYPES, type ChangeOperationType } from '../events/change-event.interface';
import { resolveRetryPolicy } from '../options/backoff';
import type { ChangeContext } from './change-context';
import type { ChangeHandlerMetadata } from './change-handler.decorator';
import {
  singleEventInvoker,
  type BatchHandlerInvoker,
  type ChangeHandlerRegistration,
  type HandlerInvoker,
} from './change-handler.registry';
import type { HandlerOptions } from './handler-options';
import type { HandlerInvokerFactory } from './handler-invoker.factory';
import { resolveHandlerRoute } from './handler-route';

/** One `@ChangeHandler` / `@ChangeBatchHandler` entry found on a provider's method. Internal. */
export interface DiscoveredHandler {
  instance: object;
  methodName: string;
  /** `<ClassName>.<methodName>`, for logs and errors. */
  label: string;
  meta: ChangeHandlerMetadata;
}

/** Checks a discovered handler and makes it ready to dispatch to; throws InvalidChangeHandlerError naming it. Internal. */
export function registrationOf(
  { instance, methodName, label, meta }: DiscoveredHandler,
  options: HandlerOptions,
  invokers: HandlerInvokerFactory,
): ChangeHandlerRegistration {
  const { worker } = options;
  assertValidMeta(meta, label);
  const id = meta.id ?? label;
  if (typeof id !== 'string' || id.trim().length === 0) {
    throw new InvalidChangeHandlerError(label, 'the id option must be a non-empty string');
  }
  let retry;
  try {
    retry = resolveRetryPolicy(meta.retry, worker.retry, 'retry');
  } catch (error) {
    throw new InvalidChangeHandlerError(label, (error as Error).message);
  }
  const registration = {
    ...resolveHandlerRoute(meta, label, options),
    id,
    label,
    operationTypes: operationTypesOf(meta, label),
    filter: meta.filter as ChangeHandlerRegistration['filter'],
    retry,
  };
  if (!meta.batch) {
    return {
      ...registration,
      transaction: meta.transaction ?? worker.transaction,
      invoke: invokers.create<Parameters<HandlerInvoker>[0], ChangeContext>(instance, methodName),
    };
  }
  // NOTE: a batch handler is transactional whatever worker.transaction says; alone, an event is an array of one.
  const invokeBatch: BatchHandlerInvoker = invokers.create(instance, methodName);
  return { ...registration, transaction: true, invoke: singleEventInvoker(invokeBatch), invokeBatch };
}

function assertValidMeta(meta: ChangeHandlerMetadata, label: string): void {
  if (meta.filter !== undefined && typeof meta.filter !== 'function') {
    throw new InvalidChangeHandlerError(label, 'the filter option must be a function (event) => boolean');
  }
  if (meta.transaction !== undefined && typeof meta.transaction !== 'boolean') {
    throw new InvalidChangeHandlerError(label, 'the transaction option must be true or false');
  }
  if (meta.batch && meta.transaction === false) {
    throw new InvalidChangeHandlerError(
      label,
      'a @ChangeBatchHandler always runs in the shared MongoDB transaction of its events; transaction: false is not supported (use @ChangeHandler for effects outside MongoDB)',
    );
  }
}

function operationTypesOf(
  meta: ChangeHandlerMetadata,
  label: string,
): ReadonlySet<ChangeOperationType> | null {
  if (meta.operationTypes === undefined) return null;
  if (!Array.isArray(meta.operationTypes) || meta.operationTypes.length === 0) {
    throw new InvalidChangeHandlerError(
      label,
      'operationTypes must be a non-empty array (omit it for every type)',
    );
  }
  const unknown = meta.operationTypes.find((type) => !CHANGE_OPERATION_TYPES.includes(type));
  if (unknown !== undefined) {
    throw new InvalidChangeHandlerError(
      label,
      `unknown operation type "${String(unknown)}" (known: ${CHANGE_OPERATION_TYPES.join(', ')})`,
    );
  }
  return new Set(meta.operationTypes);
}

/** A marker is unique per (handler id, event id): two handlers sharing an id on one topic would skip each other's events. */
export function assertUniqueIds(registrations: readonly ChangeHandlerRegistration[]): void {
  const byKey = new Map<string, ChangeHandlerRegistration>();
  for (const r of registrations) {
    const key = `${r.id}\u0000${r.topic}`;
    const other = byKey.get(key);
    if (other) {
      throw new InvalidChangeHandlerError(
        r.label,
        `handler id "${r.id}" on topic ${r.topic} is also used by ${other.label === r.label ? `another ${other.label} (two classes of that name, or one class provided in two modules)` : other.label}; give each handler a distinct @ChangeHandler({ id })`,
      );
    }
    byKey.set(key, r);
  }
}
