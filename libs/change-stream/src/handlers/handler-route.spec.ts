import { validateWorkerOptions } from '../options/worker';
import type { ResolvedStream } from '../interfaces/change-stream-options.interface';
import { resolveHandlerRoute } from './handler-route';

const stream = (db: string, collections: string[] | null, topicOf = (coll: string) => `cdc.${db}.${coll}`) =>
  ({ db, collections, topicOf }) as unknown as ResolvedStream;

const options = (over: Partial<Parameters<typeof resolveHandlerRoute>[2]> = {}) => ({
  worker: validateWorkerOptions(undefined),
  streams: [],
  excludeNamespaces: ['lib.change_stream_processed'],
  kafka: { topicPrefix: 'cdc' },
  ...over,
});

describe('resolveHandlerRoute', () => {
  it('takes the database from the handler, then worker.database, then the one stream naming the collection', () => {
    const streams = [stream('shop', ['orders'])];
    expect(
      resolveHandlerRoute({ collection: 'orders', database: 'x' }, 'H.m', options({ streams })).database,
    ).toBe('x');
    expect(
      resolveHandlerRoute(
        { collection: 'orders' },
        'H.m',
        options({ streams, worker: validateWorkerOptions({ database: 'w' }) }),
      ).database,
    ).toBe('w');
    expect(resolveHandlerRoute({ collection: 'orders' }, 'H.m', options({ streams }))).toEqual({
      database: 'shop',
      collection: 'orders',
      topic: 'cdc.shop.orders',
    });
  });

  it('uses the topic of the stream watching the collection, a custom topic, or the default name', () => {
    const streams = [stream('shop', null, () => 'shop-events')];
    expect(
      resolveHandlerRoute({ collection: 'orders', database: 'shop' }, 'H.m', options({ streams })).topic,
    ).toBe('shop-events');
    expect(
      resolveHandlerRoute(
        { collection: 'orders', database: 'shop', topic: 'mine' },
        'H.m',
        options({ streams }),
      ).topic,
    ).toBe('mine');
    expect(
      resolveHandlerRoute(
        { collection: 'users', database: 'crm' },
        'H.m',
        options({ streams, kafka: { topicPrefix: 'p' } }),
      ).topic,
    ).toBe('p.crm.users');
  });

  it('says why it cannot tell the database', () => {
    expect(() => resolveHandlerRoute({ collection: 'orders' }, 'H.m', options())).toThrow(
      '@ChangeHandler H.m: cannot tell its database: no configured stream names the collection "orders". Set @ChangeHandler({ database }) or worker.database',
    );
    const streams = [stream('a', ['orders']), stream('b', ['orders'])];
    expect(() => resolveHandlerRoute({ collection: 'orders' }, 'H.m', options({ streams }))).toThrow(
      /streams of several databases \(a, b\)/,
    );
  });

  it('refuses an excluded namespace and an empty collection name', () => {
    expect(() =>
      resolveHandlerRoute({ collection: 'change_stream_processed', database: 'lib' }, 'H.m', options()),
    ).toThrow(/lib.change_stream_processed is excluded from relaying/);
    expect(() => resolveHandlerRoute({ collection: '' }, 'H.m', options())).toThrow(/non-empty string/);
  });
});
