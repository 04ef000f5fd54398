import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import { ChangeHandlerMetadataAccessor } from './change-handler-metadata.accessor';
import { CHANGE_STREAM_OPTIONS } from './change-stream.constants';
import type { ConsumerOptions } from './consumer/consumer-options';
import type { ChangeContext } from './consumer/change-context';
import {
  ChangeHandlerRegistry,
  singleEventInvoker,
  type BatchHandlerInvoker,
  type ChangeHandlerRegistration,
  type HandlerInvoker,
} from './consumer/change-handler.registry';
import { HandlerInvokerFactory } from './consumer/handler-invoker.factory';
import { resolveHandlerRoute } from './consumer/handler-route';
import type { ChangeHandlerMetadata } from './decorators/change-handler.decorator';
import { ChangeHandlerScopeError } from './errors/change-handler-scope.error';
import { InvalidChangeHandlerError } from './errors/invalid-change-handler.error';
import { CHANGE_OPERATION_TYPES, type ChangeOperationType } from './events/change-event.interface';
import { resolveRetryPolicy } from './interfaces/worker-options.interface';

/**
 * Finds every `@ChangeHandler` method on the application's providers (DiscoveryService +
 * MetadataScanner), checks it, and registers it. Runs in onModuleInit, without I/O. Internal.
 */
@Injectable()
export class ChangeHandlerExplorer implements OnModuleInit {
  private readonly logger = new Logger('ChangeStream');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly accessor: ChangeHandlerMetadataAccessor,
    private readonly registry: ChangeHandlerRegistry,
    private readonly invokers: HandlerInvokerFactory,
    @Inject(CHANGE_STREAM_OPTIONS) private readonly options: ConsumerOptions,
  ) {}

  onModuleInit(): void {
    const registrations = this.explore();
    this.registry.register(registrations);
    for (const r of registrations) {
      const kind = r.invokeBatch ? '@ChangeBatchHandler' : '@ChangeHandler';
      this.logger.log(`${kind} ${r.label} (id "${r.id}") <- ${r.topic}`);
    }
  }

  /** Every handler of the application, checked; throws on the first one that cannot run. */
  explore(): ChangeHandlerRegistration[] {
    const registrations: ChangeHandlerRegistration[] = [];
    // NOTE: keyed by instance identity: an alias (useExisting) yields the same instance twice.
    const seen = new Set<object>();
    for (const wrapper of this.discovery.getProviders()) {
      const found = this.handlersOf(wrapper);
      if (found.length === 0) continue;
      const scope = !wrapper.isDependencyTreeStatic()
        ? 'request'
        : wrapper.isTransient
          ? 'transient'
          : undefined;
      if (scope) throw new ChangeHandlerScopeError(found[0].label, scope);
      const instance = wrapper.instance as object;
      if (seen.has(instance)) continue;
      seen.add(instance);
      for (const { methodName, label, meta } of found)
        registrations.push(this.register(instance, methodName, label, meta));
    }
    assertUniqueIds(registrations);
    return registrations;
  }

  private handlersOf(
    wrapper: InstanceWrapper,
  ): Array<{ methodName: string; label: string; meta: ChangeHandlerMetadata }> {
    const instance = wrapper.instance as object | undefined;
    // NOTE: a request-scoped provider has no usable instance at start-up; read its class instead, to refuse it.
    const prototype =
      instance && typeof instance === 'object'
        ? Object.getPrototypeOf(instance)
        : !wrapper.isNotMetatype && typeof wrapper.metatype === 'function'
          ? wrapper.metatype.prototype
          : undefined;
    if (!prototype) return [];
    const className = (instance?.constructor ?? prototype.constructor)?.name || 'anonymous';
    return this.scanner
      .getAllMethodNames(prototype)
      .flatMap((methodName) =>
        this.accessor
          .getHandlerMetadata(prototype[methodName])
          .map((meta) => ({ methodName, label: `${className}.${methodName}`, meta })),
      );
  }

  private register(
    instance: object,
    methodName: string,
    label: string,
    meta: ChangeHandlerMetadata,
  ): ChangeHandlerRegistration {
    const { worker } = this.options;
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
      ...resolveHandlerRoute(meta, label, this.options),
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
        invoke: this.invokers.create<Parameters<HandlerInvoker>[0], ChangeContext>(instance, methodName),
      };
    }
    // NOTE: a batch handler is transactional whatever worker.transaction says; alone, an event is an array of one.
    const invokeBatch: BatchHandlerInvoker = this.invokers.create(instance, methodName);
    return {
      ...registration,
      transaction: true,
      invoke: singleEventInvoker(invokeBatch),
      invokeBatch,
    };
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
function assertUniqueIds(registrations: readonly ChangeHandlerRegistration[]): void {
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
