import {
  Catch,
  Injectable,
  UseFilters,
  UseGuards,
  UseInterceptors,
  type ArgumentsHost,
  type CallHandler,
  type CanActivate,
  type ExceptionFilter,
  type ExecutionContext,
  type NestInterceptor,
  type PipeTransform,
} from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { Ctx, Payload } from '@nestjs/microservices';
import { RpcParamtype } from '@nestjs/microservices/enums/rpc-paramtype.enum';
import { Test, type TestingModule } from '@nestjs/testing';
import { ObjectId } from 'bson';
import { tap } from 'rxjs';
import { ChangeHandler } from './change-handler.decorator';
import type { InsertEvent } from '../events/change-event.interface';
import { changeEvents, ChangeStreamTester, ChangeStreamTestingModule } from '../testing';
import { ChangeContext } from './change-context';
import { RPC_PARAM_TYPES } from './handler-invoker.factory';

const seen: string[] = [];

@Injectable()
class GlobalTracer implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler) {
    const rpc = context.switchToRpc();
    const data = rpc.getData() as { operationType: string };
    seen.push(
      `global:${context.getType()}:${data.operationType}:${rpc.getContext() instanceof ChangeContext}`,
    );
    return next.handle().pipe(tap(() => seen.push('global:after')));
  }
}

class OnlyInserts implements CanActivate {
  canActivate(context: ExecutionContext) {
    return context.switchToRpc().getData<{ operationType: string }>().operationType === 'insert';
  }
}

class StatusUppercase implements PipeTransform {
  transform(value: string) {
    return value.toUpperCase();
  }
}

class Recoverable extends Error {}

@Catch(Recoverable)
class SwallowRecoverable implements ExceptionFilter {
  catch(error: Recoverable, host: ArgumentsHost) {
    seen.push(`filter:${error.message}:${host.getType()}`);
    // NOTE: in Nest's external contexts a filter handles an error by returning a value; returning nothing rethrows.
    return 'recovered';
  }
}

@Injectable()
@UseInterceptors(
  class ClassInterceptor implements NestInterceptor {
    intercept(_context: ExecutionContext, next: CallHandler) {
      seen.push('class');
      return next.handle();
    }
  },
)
class Enhanced {
  @ChangeHandler('orders', { id: 'guarded' })
  @UseGuards(OnlyInserts)
  guarded(event: InsertEvent) {
    seen.push(`guarded:${event.operationType}`);
  }

  @ChangeHandler('orders', { id: 'piped', operationTypes: ['insert'] })
  piped(
    @Payload('fullDocument') doc: { status: string },
    @Ctx() ctx: ChangeContext,
    @Payload('fullDocument', { transform: (d: { status: string }) => d.status }, new StatusUppercase())
    status: string,
  ) {
    seen.push(`piped:${doc.status}:${status}:${ctx.handlerId}`);
  }

  @ChangeHandler('orders', { id: 'filtered', operationTypes: ['insert'], retry: { attempts: 2 } })
  @UseFilters(SwallowRecoverable)
  filtered(event: InsertEvent<{ _id: ObjectId; status: string }>) {
    if (event.fullDocument.status === 'recoverable') throw new Recoverable('handled by filter');
    throw new Error('not for the filter');
  }
}

describe('Nest enhancers on @ChangeHandler methods', () => {
  let moduleRef: TestingModule;
  let tester: ChangeStreamTester;

  beforeAll(async () => {
    moduleRef = await Test.createTestingModule({
      imports: [ChangeStreamTestingModule.forRoot({ database: 'shop' })],
      providers: [Enhanced, { provide: APP_INTERCEPTOR, useClass: GlobalTracer }],
    }).compile();
    await moduleRef.init();
    tester = moduleRef.get(ChangeStreamTester);
  });
  afterAll(() => moduleRef.close());
  beforeEach(() => {
    seen.length = 0;
    tester.reset();
  });

  it('mirrors the parameter kinds of @Payload() and @Ctx() from @nestjs/microservices', () => {
    expect(RPC_PARAM_TYPES).toEqual({ payload: RpcParamtype.PAYLOAD, context: RpcParamtype.CONTEXT });
  });

  it('runs global and class interceptors in an "rpc" context whose data is the event and context the ChangeContext', async () => {
    await tester.dispatch(
      changeEvents.insert('orders', { _id: new ObjectId(), status: 'new' }, { db: 'shop' }),
    );
    expect(seen.slice(0, 4)).toEqual(['global:rpc:insert:true', 'class', 'guarded:insert', 'global:after']);
  });

  it('applies pipes through @Payload(property, ...pipes) and resolves @Ctx()', async () => {
    await tester.dispatch(
      changeEvents.insert('orders', { _id: new ObjectId(), status: 'new' }, { db: 'shop' }),
    );
    expect(seen).toContain('piped:new:NEW:piped');
  });

  it('treats a guard refusal as a failure of that handler (retried, then dead-lettered)', async () => {
    const report = await tester.dispatch(changeEvents.delete('orders', new ObjectId(), { db: 'shop' }));
    const guarded = report.handlers.find((h) => h.handlerId === 'guarded');
    expect(guarded).toMatchObject({
      outcome: 'dead-lettered',
      attempts: 5,
      error: expect.objectContaining({ message: 'Forbidden resource' }),
    });
    expect(seen).not.toContain('guarded:delete');
  });

  it('lets an exception filter handle an error (the effect counts as applied) and passes others on to retries', async () => {
    const handled = await tester.dispatch(
      changeEvents.insert('orders', { _id: new ObjectId(), status: 'recoverable' }, { db: 'shop' }),
    );
    expect(handled.handlers.find((h) => h.handlerId === 'filtered')).toMatchObject({
      outcome: 'applied',
      attempts: 1,
    });
    expect(seen).toContain('filter:handled by filter:rpc');

    const failed = await tester.dispatch(
      changeEvents.insert('orders', { _id: new ObjectId(), status: 'other' }, { db: 'shop' }),
    );
    expect(failed.handlers.find((h) => h.handlerId === 'filtered')).toMatchObject({
      outcome: 'dead-lettered',
      attempts: 2,
      error: expect.objectContaining({ message: 'not for the filter' }),
    });
  });
});
