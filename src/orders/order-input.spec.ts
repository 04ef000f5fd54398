import { BadRequestException } from '@nestjs/common';
import { centsToDecimal, decimalToCents, toCents } from './money';
import { parseCreateOrder, parseOrderId, parseStatusChange } from './order-input';

const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestException);
    return ((error as BadRequestException).getResponse() as { message: string[] }).message;
  }
  throw new Error('expected a 400');
};

describe('order input', () => {
  it('accepts a valid order and keeps prices exact in cents', () => {
    expect(
      parseCreateOrder({
        customerId: 'c-1',
        items: [
          { sku: 'a', quantity: 3, price: '0.10' },
          { sku: 'b', quantity: 1, price: 2 },
        ],
      }),
    ).toEqual({
      customerId: 'c-1',
      items: [
        { sku: 'a', quantity: 3, priceCents: 10n },
        { sku: 'b', quantity: 1, priceCents: 200n },
      ],
    });
  });

  it('names every bad field', () => {
    expect(
      problemsOf(() =>
        parseCreateOrder({ customerId: 7, items: [{ sku: '', quantity: 1.5, price: '1.001' }], extra: true }),
      ),
    ).toEqual([
      'unknown field(s): extra',
      'customerId must be a string of 1-64 letters, digits or _.:-',
      'items[0].sku must be a string of 1-64 letters, digits or _.:-',
      'items[0].quantity must be an integer from 1 to 10000',
      'items[0].price must be a decimal >= 0 with at most 2 fraction digits',
    ]);
    expect(problemsOf(() => parseCreateOrder([]))).toEqual([
      'body must be a JSON object { customerId, items }',
    ]);
    expect(problemsOf(() => parseCreateOrder({ customerId: 'c', items: [] }))).toEqual([
      'items must be an array of 1 to 100 items',
    ]);
  });

  it('checks statuses and ids', () => {
    expect(parseStatusChange({ status: 'paid' })).toBe('paid');
    expect(problemsOf(() => parseStatusChange({ status: 'lost' }))).toEqual([
      'status must be one of created, paid, shipped, delivered, cancelled',
    ]);
    expect(problemsOf(() => parseOrderId('xyz'))).toEqual(['order id must be 24 hex characters; got "xyz"']);
  });

  it('converts money without floating point', () => {
    expect(toCents('19.99')).toBe(1999n);
    expect(centsToDecimal(-5n).toString()).toBe('-0.05');
    expect(decimalToCents(centsToDecimal(123456n))).toBe(123456n);
  });
});
