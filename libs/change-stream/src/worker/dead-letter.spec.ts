import { CHANGE_EVENT_HEADERS } from '../events/change-event.headers';
import { deadLetterRecord, describeError } from './dead-letter';
import { DEAD_LETTER_HEADERS as H } from './dead-letter.headers';

describe('deadLetterRecord', () => {
  const message = {
    topic: 'cdc.shop.orders',
    partition: 3,
    offset: '42',
    key: Buffer.from('{"_id":1}'),
    value: Buffer.from('{"operationType":"insert"}'),
    headers: { [CHANGE_EVENT_HEADERS.eventId]: Buffer.from('EV1') },
  };

  it('keeps key, value and headers and adds headers naming handler, error and attempts', () => {
    const record = deadLetterRecord(
      {
        message,
        reason: 'handler-failed',
        handlerId: 'Orders.onOrder',
        error: new RangeError('too big'),
        attempts: 3,
      },
      { suffix: '.dlq', groupId: 'workers', now: new Date('2025-01-02T03:04:05.000Z') },
    );
    expect(record.topic).toBe('cdc.shop.orders.dlq');
    expect(record.message.key).toBe(message.key);
    expect(record.message.value).toBe(message.value);
    expect(record.message.headers).toEqual({
      [CHANGE_EVENT_HEADERS.eventId]: Buffer.from('EV1'),
      [H.reason]: 'handler-failed',
      [H.handler]: 'Orders.onOrder',
      [H.error]: 'RangeError: too big',
      [H.attempts]: '3',
      [H.topic]: 'cdc.shop.orders',
      [H.partition]: '3',
      [H.offset]: '42',
      [H.group]: 'workers',
      [H.failedAt]: '2025-01-02T03:04:05.000Z',
    });
  });

  it('names no handler for an undecodable message', () => {
    const record = deadLetterRecord(
      { message, reason: 'undecodable', error: new Error('bad'), attempts: 0 },
      { suffix: '-dead', groupId: 'g' },
    );
    expect(record.topic).toBe('cdc.shop.orders-dead');
    expect(record.message.headers).toMatchObject({
      [H.reason]: 'undecodable',
      [H.handler]: '',
      [H.attempts]: '0',
    });
  });
});

describe('describeError', () => {
  it('describes errors, strings and plain objects thrown by filters, bounded in length', () => {
    expect(describeError(new TypeError('x'))).toBe('TypeError: x');
    expect(describeError('plain')).toBe('plain');
    expect(describeError({ status: 'error', message: 'Internal server error' })).toBe(
      '{"status":"error","message":"Internal server error"}',
    );
    expect(describeError(new Error('y'.repeat(5000)))).toHaveLength(1000);
  });
});
