/** The README's testing-kit example, kept compiling and passing. */
import { Inject, Injectable } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { ObjectId } from 'bson';
import { ChangeHandler } from '../handlers/change-handler.decorator';
import type { ChangeEventOf } from '../events/change-event.interface';
import type { ChangeContext } from '../handlers/change-context';
import {
  changeEvents,
  ChangeStreamTester,
  ChangeStreamTestingModule,
  createChangeContext,
  toKafkaMessage,
} from '.';

interface Order {
  _id: ObjectId;
  email: string;
  status: 'new' | 'paid';
}

const MAILER = Symbol('MAILER');
interface Mailer {
  send(to: string, template: string, options: { idempotencyKey: string }): Promise<void>;
}

@Injectable()
class OrderEmails {
  constructor(@Inject(MAILER) private readonly mailer: Mailer) {}

  @ChangeHandler<Order>('orders', {
    operationTypes: ['update'],
    filter: (e) => e.operationType === 'update' && e.updateDescription.updatedFields?.status === 'paid',
    transaction: false,
    retry: { attempts: 3 },
  })
  async onPaid(event: ChangeEventOf<Order, 'update'>, ctx: ChangeContext) {
    await this.mailer.send(event.fullDocument!.email, 'order-paid', { idempotencyKey: ctx.idempotencyKey });
  }
}

const mailer = { send: jest.fn<Promise<void>, Parameters<Mailer['send']>>() };
let moduleRef: TestingModule;
let tester: ChangeStreamTester;

/** Gives each test of the calling describe a fresh testing module with OrderEmails and a mock mailer. */
function useOrderEmailsModule(): void {
  beforeEach(async () => {
    mailer.send.mockReset().mockResolvedValue(undefined);
    moduleRef = await Test.createTestingModule({
      imports: [ChangeStreamTestingModule.forRoot({ database: 'shop' })],
      providers: [OrderEmails, { provide: MAILER, useValue: mailer }],
    }).compile();
    await moduleRef.init();
    tester = moduleRef.get(ChangeStreamTester);
  });
  afterEach(() => moduleRef.close());
}

const paid = (order: Order) =>
  changeEvents.update<Order>(
    'orders',
    order._id,
    { updatedFields: { status: 'paid' } },
    { db: 'shop', fullDocument: order },
  );

describe('nest-change-stream/testing: dispatching events', () => {
  useOrderEmailsModule();

  it('sends one email per paid order, however often the event is delivered', async () => {
    const order: Order = { _id: new ObjectId(), email: 'ada@example.com', status: 'paid' };
    const event = paid(order);

    expect((await tester.dispatch(event)).handlers).toEqual([
      { handlerId: 'OrderEmails.onPaid', outcome: 'applied', attempts: 1 },
    ]);
    expect((await tester.dispatch(event)).handlers[0].outcome).toBe('duplicate');
    expect(mailer.send).toHaveBeenCalledTimes(1);
    expect(mailer.send).toHaveBeenCalledWith('ada@example.com', 'order-paid', {
      idempotencyKey: expect.any(String),
    });
  });

  it('ignores other updates', async () => {
    const event = changeEvents.update<Order>(
      'orders',
      new ObjectId(),
      { updatedFields: { email: 'x@example.com' } },
      { db: 'shop' },
    );
    expect((await tester.dispatch(event)).handlers[0].outcome).toBe('filtered');
    expect(mailer.send).not.toHaveBeenCalled();
  });

  it('retries a failing mailer with the same idempotency key, then dead-letters', async () => {
    mailer.send.mockRejectedValue(new Error('SMTP 451'));
    const report = await tester.dispatch(
      paid({ _id: new ObjectId(), email: 'bob@example.com', status: 'paid' }),
    );

    expect(report.handlers[0]).toMatchObject({ outcome: 'dead-lettered', attempts: 3 });
    expect(new Set(mailer.send.mock.calls.map(([, , options]) => options.idempotencyKey)).size).toBe(1);
    expect(tester.retryDelays).toEqual([500, 1000]);
    expect(tester.deadLetters[0]).toMatchObject({ handlerId: 'OrderEmails.onPaid', attempts: 3 });
  });
});

describe('nest-change-stream/testing: direct calls, discovery and start-up', () => {
  useOrderEmailsModule();

  it('lets a handler method be called directly with createChangeContext()', async () => {
    const emails = moduleRef.get(OrderEmails);
    const event = paid({ _id: new ObjectId(), email: 'cy@example.com', status: 'paid' });
    await emails.onPaid(event, createChangeContext({ event, handlerId: 'OrderEmails.onPaid' }));
    const viaTester = await tester.dispatch(event);
    expect(viaTester.handlers[0].outcome).toBe('applied');
    const [first, second] = mailer.send.mock.calls.map(([, , options]) => options.idempotencyKey);
    expect(first).toBe(second);
  });

  it('lists the discovered handlers and builds Kafka messages for integration tests', () => {
    expect(tester.handlers()).toEqual([
      expect.objectContaining({
        id: 'OrderEmails.onPaid',
        topic: 'cdc.shop.orders',
        transaction: false,
        operationTypes: ['update'],
      }),
    ]);
    const event = changeEvents.delete('orders', new ObjectId(), { db: 'shop' });
    const message = toKafkaMessage(event, { epoch: 3 });
    expect(message.headers).toMatchObject({
      'cdc-event-id': event._id._data,
      'cdc-operation': 'delete',
      'cdc-epoch': '3',
    });
  });

  it('explains a call made before the module was initialised', async () => {
    const fresh = await Test.createTestingModule({
      imports: [ChangeStreamTestingModule.forRoot()],
    }).compile();
    expect(() => fresh.get(ChangeStreamTester).handlers()).toThrow(/call `await moduleRef.init\(\)` first/);
    await fresh.close();
  });
});
