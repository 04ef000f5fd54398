import { Injectable } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import type { ParamData } from '@nestjs/common';
import { ExternalContextCreator } from '@nestjs/core';
import { isObservable, lastValueFrom } from 'rxjs';

/**
 * Parameter kinds of `@Payload()` and `@Ctx()` from @nestjs/microservices (its `RpcParamtype`),
 * mirrored so the library does not need that package at run time. A spec pins them to the real enum.
 */
export const RPC_PARAM_TYPES = { payload: 3, context: 6 } as const;

/** Resolves `@Payload(property?)` to the event (or one of its fields) and `@Ctx()` to the ChangeContext. */
const changeParamsFactory = {
  exchangeKeyForValue(type: number, data: ParamData, args: unknown[]): unknown {
    if (type === RPC_PARAM_TYPES.payload) {
      const event = args[0] as Record<string, unknown> | undefined;
      return typeof data === 'string' && data ? event?.[data] : event;
    }
    return type === RPC_PARAM_TYPES.context ? args[1] : undefined;
  },
};

/**
 * Wraps a handler method with Nest's enhancers, the way @nestjs/microservices wraps a
 * `@EventPattern` method: guards, interceptors, pipes (through `@Payload(pipe)`) and exception
 * filters, method-, class- and globally-scoped. The execution context type is `'rpc'`, so
 * `context.switchToRpc().getData()` is the event and `.getContext()` the ChangeContext. Internal.
 */
@Injectable()
export class HandlerInvokerFactory {
  constructor(private readonly externalContextCreator: ExternalContextCreator) {}

  /** The method as `(payload, ctx)`: `(event, ChangeContext)`, or `(events, ChangeBatchContext)` for a batch handler. */
  create<P, C>(instance: object, methodName: string): (payload: P, ctx: C) => Promise<unknown> {
    const callback = (instance as Record<string, (...args: unknown[]) => unknown>)[methodName];
    const proxy = this.externalContextCreator.create(
      instance,
      callback,
      methodName,
      ROUTE_ARGS_METADATA,
      changeParamsFactory,
      undefined,
      undefined,
      { guards: true, interceptors: true, filters: true },
      'rpc',
    );
    return async (payload, ctx) => {
      const result: unknown = await proxy(payload, ctx);
      // NOTE: an interceptor or an RPC exception filter may answer with an Observable; its error is the handler's failure.
      return isObservable(result) ? lastValueFrom(result, { defaultValue: undefined }) : result;
    };
  }
}
