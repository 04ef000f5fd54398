import { Inject, Injectable, Scope, type Provider } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Test, type TestingModule } from '@nestjs/testing';
import { ChangeHandlerMetadataAccessor } from './change-handler-metadata.accessor';
import { ChangeBatchHandler, ChangeHandler } from './change-handler.decorator';
import type { ChangeBatchContext } from './change-context';
import { changeEvents } from '../testing';
import { ChangeHandlerScopeError } from '../errors/change-handler-scope.error';
import { InvalidChangeHandlerError } from '../errors/invalid-change-handler.error';
import { ChangeStreamTester, ChangeStreamTestingModule, type ChangeStreamTestingOptions } from '../testing';

const modules: TestingModule[] = [];
afterEach(async () => {
  await Promise.all(modules.splice(0).map((m) => m.close()));
});

async function discover(providers: Provider[], options: ChangeStreamTestingOptions = { database: 'shop' }) {
  const moduleRef = await Test.createTestingModule({
    imports: [ChangeStreamTestingModule.forRoot(options)],
    providers,
  }).compile();
  await moduleRef.init();
  modules.push(moduleRef);
  return moduleRef.get(ChangeStreamTester).handlers();
}

@Injectable()
class OrderProjection {
  @ChangeHandler('orders', { operationTypes: ['insert', 'update'] })
  onOrder(): void {}

  @ChangeHandler('orders', { id: 'order-deletes', operationTypes: ['delete'] })
  @ChangeHandler('archived_orders', { id: 'order-deletes', database: 'archive' })
  onGone(): void {}

  notAHandler(): void {}
}

@Injectable()
class OrderEmails {
  @ChangeHandler('orders', { topic: 'custom.orders', transaction: false })
  send(): void {}
}

describe('ChangeHandlerExplorer: discovery', () => {
  it('finds every handler, several per collection and several per method, with their routes', async () => {
    const handlers = await discover([OrderProjection, OrderEmails]);
    expect(handlers).toEqual([
      expect.objectContaining({
        id: 'OrderProjection.onOrder',
        topic: 'cdc.shop.orders',
        operationTypes: ['insert', 'update'],
        transaction: true,
      }),
      expect.objectContaining({
        id: 'order-deletes',
        label: 'OrderProjection.onGone',
        topic: 'cdc.shop.orders',
        operationTypes: ['delete'],
      }),
      expect.objectContaining({
        id: 'order-deletes',
        database: 'archive',
        collection: 'archived_orders',
        topic: 'cdc.archive.archived_orders',
        operationTypes: null,
      }),
      expect.objectContaining({ id: 'OrderEmails.send', topic: 'custom.orders', transaction: false }),
    ]);
  });

  it('reads the class from the instance of value and factory providers', async () => {
    const handlers = await discover([
      { provide: 'PROJECTION', useValue: new OrderProjection() },
      { provide: 'EMAILS', useFactory: () => new OrderEmails() },
    ]);
    expect(handlers.map((h) => h.label)).toEqual([
      'OrderProjection.onOrder',
      'OrderProjection.onGone',
      'OrderProjection.onGone',
      'OrderEmails.send',
    ]);
  });

  it('registers an instance once when an alias (useExisting) provides it again', async () => {
    const handlers = await discover([OrderEmails, { provide: 'ALIAS', useExisting: OrderEmails }]);
    expect(handlers.map((h) => h.id)).toEqual(['OrderEmails.send']);
  });
});

describe('ChangeHandlerExplorer: refused handlers', () => {
  it('refuses a handler on a request-scoped provider, naming it', async () => {
    @Injectable({ scope: Scope.REQUEST })
    class PerRequest {
      @ChangeHandler('orders')
      handle(): void {}
    }
    const attempt = discover([PerRequest]);
    await expect(attempt).rejects.toThrow(ChangeHandlerScopeError);
    await expect(attempt).rejects.toThrow(
      /@ChangeHandler PerRequest\.handle is on a request-scoped provider/,
    );
  });

  it('refuses a handler on a provider that depends on a request-scoped one', async () => {
    @Injectable({ scope: Scope.REQUEST })
    class RequestInfo {}
    @Injectable()
    class Implicit {
      constructor(@Inject(RequestInfo) readonly info: RequestInfo) {}
      @ChangeHandler('orders')
      handle(): void {}
    }
    await expect(discover([RequestInfo, Implicit])).rejects.toThrow(
      /Implicit\.handle is on a request-scoped provider/,
    );
  });

  it('refuses a handler on a transient provider', async () => {
    @Injectable({ scope: Scope.TRANSIENT })
    class Transient {
      @ChangeHandler('orders')
      handle(): void {}
    }
    await expect(discover([Transient])).rejects.toThrow(
      /Transient\.handle is on a transient-scoped provider/,
    );
  });

  it('refuses two handlers with one id on one topic (e.g. two classes of the same name)', async () => {
    const make = () => {
      @Injectable()
      class Twin {
        @ChangeHandler('orders')
        handle(): void {}
      }
      return Twin;
    };
    const attempt = discover([make(), make()]);
    await expect(attempt).rejects.toThrow(InvalidChangeHandlerError);
    await expect(attempt).rejects.toThrow(
      /handler id "Twin.handle" on topic cdc.shop.orders is also used by another Twin.handle \(two classes of that name, or one class provided in two modules\); give each handler a distinct @ChangeHandler\(\{ id \}\)/,
    );
  });

  it.each([
    [{ operationTypes: ['insrt'] }, /unknown operation type "insrt" \(known: insert, update/],
    [{ operationTypes: [] }, /operationTypes must be a non-empty array/],
    [{ retry: { attempts: 0 } }, /"retry.attempts": expected an integer >= 1/],
    [{ filter: 'status = paid' }, /the filter option must be a function/],
    [{ id: ' ' }, /the id option must be a non-empty string/],
  ])('names the handler and the problem for options %j', async (options, message) => {
    @Injectable()
    class Bad {
      @ChangeHandler('orders', options as never)
      handle(): void {}
    }
    await expect(discover([Bad])).rejects.toThrow(
      new RegExp(`@ChangeHandler Bad\\.handle: .*${message.source}`),
    );
  });
});

describe('ChangeHandlerExplorer: batch handlers and the default database', () => {
  it('registers a @ChangeBatchHandler as transactional, and delivers several events to it in one call', async () => {
    const calls: Array<{ ids: unknown[]; eventIds: string[] }> = [];
    @Injectable()
    class Views {
      @ChangeBatchHandler('orders', { operationTypes: ['insert'] })
      async apply(events: Array<{ documentKey: { _id: unknown } }>, ctx: ChangeBatchContext) {
        calls.push({
          ids: events.map((e) => e.documentKey._id),
          eventIds: ctx.contexts.map((c) => c.eventId),
        });
      }
    }
    const moduleRef = await Test.createTestingModule({
      imports: [ChangeStreamTestingModule.forRoot({ database: 'shop', worker: { transaction: false } })],
      providers: [Views],
    }).compile();
    await moduleRef.init();
    modules.push(moduleRef);
    const tester = moduleRef.get(ChangeStreamTester);
    expect(tester.handlers()).toEqual([
      expect.objectContaining({ id: 'Views.apply', transaction: true, batch: true }),
    ]);
    const events = [
      changeEvents.insert('orders', { _id: 'a' }, { db: 'shop' }),
      changeEvents.delete('orders', 'b', { db: 'shop' }),
      changeEvents.insert('orders', { _id: 'c' }, { db: 'shop' }),
    ];
    const reports = await tester.dispatchBatch(events);
    expect(reports.map((r) => r.handlers.map((h) => h.outcome))).toEqual([
      ['applied'],
      ['filtered'],
      ['applied'],
    ]);
    expect(calls).toEqual([{ ids: ['a', 'c'], eventIds: [events[0]._id._data, events[2]._id._data] }]);
    expect((await tester.dispatch(events[2])).handlers[0].outcome).toBe('duplicate');
    expect(calls).toHaveLength(1);
  });

  it('refuses a @ChangeBatchHandler with transaction: false, naming it', async () => {
    @Injectable()
    class Outside {
      @ChangeBatchHandler('orders', { transaction: false } as never)
      send(): void {}
    }
    await expect(discover([Outside])).rejects.toThrow(
      /Outside\.send: a @ChangeBatchHandler always runs in the shared MongoDB transaction of its events; transaction: false is not supported/,
    );
  });

  it('needs a database when neither the handler, worker.database nor a stream names one', async () => {
    @Injectable()
    class NoDb {
      @ChangeHandler('orders')
      handle(): void {}
    }
    const moduleRef = await Test.createTestingModule({
      imports: [ChangeStreamTestingModule.forRoot({ database: undefined })],
      providers: [NoDb],
    }).compile();
    modules.push(moduleRef);
    // The testing module defaults the database to 'test', as the event builders do.
    await moduleRef.init();
    expect(moduleRef.get(ChangeStreamTester).handlers()[0].topic).toBe('cdc.test.orders');
  });
});

describe('ChangeHandlerMetadataAccessor', () => {
  it('returns the entries of a method in source order, and none for other values', () => {
    class Target {
      @ChangeHandler('a')
      @ChangeHandler('b', { operationTypes: ['insert'] })
      both(): void {}
      plain(): void {}
    }
    const accessor = new ChangeHandlerMetadataAccessor(new Reflector());
    expect(accessor.getHandlerMetadata(Target.prototype.both)).toEqual([
      { collection: 'a' },
      { collection: 'b', operationTypes: ['insert'] },
    ]);
    expect(accessor.getHandlerMetadata(Target.prototype.plain)).toEqual([]);
    expect(accessor.getHandlerMetadata(undefined)).toEqual([]);
  });
});
