import { Types } from 'mongoose';
import { statsIncrements, type OrderState } from './stats-delta';

const order = (customerId: string, status: OrderState['status'], total: string): OrderState => ({
  customerId,
  status,
  total: Types.Decimal128.fromString(total),
});
const plain = (map: ReturnType<typeof statsIncrements>) =>
  Object.fromEntries(
    [...map].map(([customer, inc]) => [
      customer,
      Object.fromEntries(Object.entries(inc).map(([k, v]) => [k, v.toString()])),
    ]),
  );

describe('statsIncrements', () => {
  it('counts a new order, its total and its status', () => {
    expect(plain(statsIncrements(null, order('c1', 'created', '12.30')))).toEqual({
      c1: { orders: '1', 'byStatus.created': '1', totalSpent: '12.30' },
    });
  });

  it('moves the status count and counts the transition, leaving orders and total alone', () => {
    expect(plain(statsIncrements(order('c1', 'created', '12.30'), order('c1', 'paid', '12.30')))).toEqual({
      c1: { 'byStatus.created': '-1', 'byStatus.paid': '1', 'transitions.created_to_paid': '1' },
    });
  });

  it('takes back everything a deleted order added', () => {
    expect(plain(statsIncrements(order('c1', 'paid', '0.10'), null))).toEqual({
      c1: { orders: '-1', 'byStatus.paid': '-1', totalSpent: '-0.10' },
    });
  });

  it('writes nothing for a change the stats do not show', () => {
    expect(statsIncrements(order('c1', 'paid', '5.00'), order('c1', 'paid', '5.00')).size).toBe(0);
  });

  it('moves an order between customers without counting a transition', () => {
    expect(plain(statsIncrements(order('c1', 'paid', '5.00'), order('c2', 'shipped', '5.00')))).toEqual({
      c1: { orders: '-1', 'byStatus.paid': '-1', totalSpent: '-5.00' },
      c2: { orders: '1', 'byStatus.shipped': '1', totalSpent: '5.00' },
    });
  });
});
