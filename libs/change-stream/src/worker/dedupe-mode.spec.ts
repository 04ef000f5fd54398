import type { Logger } from '@nestjs/common';
import type { ChangeHandlerRegistration } from '../handlers/change-handler.registry';
import { markerTopics, UntransactionalMessageWarning } from './dedupe-mode';

const handler = (topic: string, transaction: boolean) =>
  ({ id: `${topic}-${transaction}`, topic, transaction }) as ChangeHandlerRegistration;

describe('markerTopics (the topics whose marker retention is checked at start-up)', () => {
  const handlers = [handler('a', true), handler('b', true), handler('b', false), handler('c', true)];

  it('is every topic in markers mode', () => {
    expect(markerTopics({ dedupe: 'markers' }, handlers)).toEqual(['a', 'b', 'c']);
  });

  it('is only the topics of handlers with transaction: false in offsets mode (nothing else keeps markers)', () => {
    expect(markerTopics({ dedupe: 'offsets' }, handlers)).toEqual(['b']);
    expect(markerTopics({ dedupe: 'offsets' }, [handler('a', true)])).toEqual([]);
  });
});

describe('UntransactionalMessageWarning', () => {
  const inTransaction = (offset: string, flag: boolean) => ({
    offset,
    batchContext: { inTransaction: flag },
  });

  it('says once per partition, in offsets mode, that a message was written outside a Kafka transaction', () => {
    const logger = { error: jest.fn() };
    const warning = new UntransactionalMessageWarning({ dedupe: 'offsets' }, logger as unknown as Logger);
    warning.check('t', 0, [inTransaction('1', true), inTransaction('2', true)]);
    expect(logger.error).not.toHaveBeenCalled();
    warning.check('t', 0, [inTransaction('3', true), inTransaction('4', false)]);
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(logger.error.mock.calls[0][0]).toMatch(/t\[0\]@4 was not written in a Kafka transaction/);
    warning.check('t', 0, [inTransaction('5', false)]);
    warning.check('t', 1, [inTransaction('9', false)]);
    expect(logger.error).toHaveBeenCalledTimes(2);
  });

  it('stays quiet in markers mode, where markers dedupe copies at any offset', () => {
    const logger = { error: jest.fn() };
    const warning = new UntransactionalMessageWarning({ dedupe: 'markers' }, logger as unknown as Logger);
    warning.check('t', 0, [inTransaction('1', false)]);
    expect(logger.error).not.toHaveBeenCalled();
  });
});
