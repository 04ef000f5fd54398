import { ObjectId, Timestamp } from 'bson';
import { Types } from 'mongoose';
import type { ChangeEvent } from 'nest-change-stream';
import { changeEvents } from 'nest-change-stream/testing';
import { foldOrderChanges, orderKey, type OrderDoc, type ViewState } from './order-changes';
import type { OrderStatus } from './order.schema';
import { decimalToCents } from './money';
import { statsIncrements, type StatsDelta } from './stats-delta';

const money = (amount: string) => Types.Decimal128.fromString(amount);
const order = (id: ObjectId, customerId: string, status: OrderStatus, total = '10.00'): OrderDoc =>
  ({
    _id: id,
    customerId,
    status,
    total: money(total),
    items: [{ sku: 'a', quantity: 1, price: money(total) }],
  }) as unknown as OrderDoc;
const at = (seconds: number) => ({ db: 'shop', wallTime: new Date(seconds * 1000) });
const insert = (o: OrderDoc, t = 1) => changeEvents.insert<OrderDoc>('orders', o, at(t));
const setStatus = (id: ObjectId, status: OrderStatus, t = 2) =>
  changeEvents.update<OrderDoc>('orders', id, { updatedFields: { status } }, at(t));
const remove = (id: ObjectId, t = 3) => changeEvents.delete<OrderDoc>('orders', id, at(t));
const plain = (stats: StatsDelta) =>
  Object.fromEntries(
    [...stats.increments()].map(([customer, inc]) => [
      customer,
      Object.fromEntries(Object.entries(inc).map(([k, v]) => [k, v.toString()])),
    ]),
  );

describe('foldOrderChanges', () => {
  it('turns several events of one order into one view write with the last state and time', () => {
    const id = new ObjectId();
    const changes = foldOrderChanges(
      [insert(order(id, 'c1', 'created'), 1), setStatus(id, 'paid', 2), setStatus(id, 'shipped', 3)],
      new Map(),
    );
    expect(changes.views).toEqual([
      {
        id,
        after: expect.objectContaining({ customerId: 'c1', status: 'shipped', itemCount: 1 }),
        existed: false,
        changedAt: new Date(3000),
        clusterTime: new Timestamp({ t: 3, i: 1 }),
      },
    ]);
    expect(plain(changes.stats)).toEqual({
      c1: {
        orders: '1',
        'byStatus.shipped': '1',
        totalSpent: '10.00',
        eventsApplied: '3',
        'transitions.created_to_paid': '1',
        'transitions.paid_to_shipped': '1',
      },
    });
  });

  it('starts from the current view, and deletes only a view that existed', () => {
    const [kept, gone, brief] = [new ObjectId(), new ObjectId(), new ObjectId()];
    const current = new Map<string, ViewState>([
      [orderKey(kept), { customerId: 'c1', status: 'created', total: money('5.00'), itemCount: 1 }],
      [orderKey(gone), { customerId: 'c2', status: 'paid', total: money('7.50'), itemCount: 1 }],
    ]);
    const changes = foldOrderChanges(
      [setStatus(kept, 'paid'), remove(gone), insert(order(brief, 'c3', 'created')), remove(brief)],
      current,
    );
    expect(changes.views.map((v) => [v.id, v.after?.status ?? null, v.existed])).toEqual([
      [kept, 'paid', true],
      [gone, null, true],
      [brief, null, false],
    ]);
    expect(plain(changes.stats)).toEqual({
      c1: {
        'byStatus.created': '-1',
        'byStatus.paid': '1',
        'transitions.created_to_paid': '1',
        eventsApplied: '1',
      },
      c2: { orders: '-1', 'byStatus.paid': '-1', totalSpent: '-7.50', eventsApplied: '1' },
      // NOTE: the order came and went within the batch: only the count of its two events remains.
      c3: { eventsApplied: '2' },
    });
  });

  it('skips an update before its view exists unless the event carries the full document', () => {
    const [bare, full] = [new ObjectId(), new ObjectId()];
    const withDocument = changeEvents.update<OrderDoc>(
      'orders',
      full,
      { updatedFields: { status: 'paid' } },
      { ...at(2), fullDocument: order(full, 'c1', 'paid') },
    );
    const changes = foldOrderChanges([setStatus(bare, 'paid'), withDocument], new Map());
    expect(changes.skipped).toHaveLength(1);
    expect(changes.skipped[0].documentKey._id).toEqual(bare);
    expect(changes.views.map((v) => [v.id, v.after?.status])).toEqual([[full, 'paid']]);
  });

  it('sums to the same stats as applying the events one by one', () => {
    const ids = [new ObjectId(), new ObjectId(), new ObjectId()];
    const statuses: OrderStatus[] = ['created', 'paid', 'shipped', 'cancelled'];
    const events: ChangeEvent<OrderDoc>[] = [];
    const state = new Map<string, OrderDoc | null>();
    // the per-event increments, summed field by field (cents for totalSpent), zeros left out
    const oneByOne: Record<string, Record<string, number>> = {};
    // a fixed walk: every order is created, moves through statuses and customers, some are deleted
    for (let step = 0; step < 40; step++) {
      const id = ids[step % 3];
      const prev = state.get(orderKey(id)) ?? null;
      let next: OrderDoc | null;
      if (!prev) next = order(id, `c${step % 2}`, 'created', `${step}.25`);
      else if (step % 7 === 0) next = null;
      else if (step % 5 === 0) next = { ...prev, customerId: `c${(step + 1) % 3}` };
      else next = { ...prev, status: statuses[(statuses.indexOf(prev.status) + 1) % statuses.length] };
      if (!prev) events.push(insert(next!, step));
      else if (!next) events.push(remove(id, step));
      else if (next.customerId !== prev.customerId)
        events.push(changeEvents.replace<OrderDoc>('orders', next, at(step)));
      else events.push(setStatus(id, next.status, step));
      const view = (o: OrderDoc | null) =>
        o && { customerId: o.customerId, status: o.status, total: o.total, itemCount: o.items.length };
      for (const [customer, inc] of statsIncrements(view(prev), view(next))) {
        const sums = (oneByOne[customer] ??= {});
        for (const [field, n] of Object.entries(inc)) {
          sums[field] = (sums[field] ?? 0) + (typeof n === 'number' ? n : Number(decimalToCents(n)));
        }
      }
      const customer = (next ?? prev)!.customerId;
      oneByOne[customer] ??= {};
      oneByOne[customer].eventsApplied = (oneByOne[customer].eventsApplied ?? 0) + 1;
      state.set(orderKey(id), next);
    }
    const folded = foldOrderChanges(events, new Map());
    const cents = (amount: string) => Number(decimalToCents(amount));
    const foldedSums = Object.fromEntries(
      Object.entries(plain(folded.stats)).map(([customer, inc]) => [
        customer,
        Object.fromEntries(
          Object.entries(inc).map(([k, v]) => [k, k === 'totalSpent' ? cents(v) : Number(v)]),
        ),
      ]),
    );
    const nonZero = Object.fromEntries(
      Object.entries(oneByOne)
        .map(([c, inc]) => [c, Object.fromEntries(Object.entries(inc).filter(([, n]) => n !== 0))] as const)
        .filter(([, inc]) => Object.keys(inc).length > 0),
    );
    expect(foldedSums).toEqual(nonZero);
    expect(Object.keys(nonZero).length).toBeGreaterThan(0);
    expect(folded.views.map((v) => v.after?.status ?? null)).toEqual(
      ids.map((id) => state.get(orderKey(id))?.status ?? null),
    );
  });
});
