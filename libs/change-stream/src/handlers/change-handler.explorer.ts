import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import { CHANGE_STREAM_OPTIONS } from '../change-stream.constants';
import { ChangeHandlerScopeError } from '../errors/change-handler-scope.error';
import { ChangeHandlerMetadataAccessor } from './change-handler-metadata.accessor';
import { ChangeHandlerRegistry } from './change-handler.registry';
import type { HandlerOptions } from './handler-options';
import { HandlerInvokerFactory } from './handler-invoker.factory';
import { assertUniqueIds, registrationOf, type DiscoveredHandler } from './handler-registration';

/**
 * Finds every `@ChangeHandler` method on the application's providers (DiscoveryService +
 * MetadataScanner) and hands them, checked, to the registry. Runs in onModuleInit, without I/O. Internal.
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
    @Inject(CHANGE_STREAM_OPTIONS) private readonly options: HandlerOptions,
  ) {}

  onModuleInit(): void {
    const registrations = this.explore().map((found) => registrationOf(found, this.options, this.invokers));
    assertUniqueIds(registrations);
    this.registry.register(registrations);
    for (const r of registrations) {
      const kind = r.invokeBatch ? '@ChangeBatchHandler' : '@ChangeHandler';
      this.logger.log(`${kind} ${r.label} (id "${r.id}") <- ${r.topic}`);
    }
  }

  /** Every handler method of the application, once per instance; throws on a provider that is not a singleton. */
  explore(): DiscoveredHandler[] {
    const discovered: DiscoveredHandler[] = [];
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
      for (const handler of found) discovered.push({ ...handler, instance });
    }
    return discovered;
  }

  private handlersOf(wrapper: InstanceWrapper): Omit<DiscoveredHandler, 'instance'>[] {
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
}
