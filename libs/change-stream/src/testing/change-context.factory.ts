import type { ChangeEvent, ResumeToken } from '../events/change-event.interface';
import { ChangeContext, type ChangeContextInit } from '../handlers/change-context';
import { idempotencyKeyOf } from '../idempotency/idempotency-key';
import { createTestingSession } from './testing-session';

/**
 * A ChangeContext for calling a handler method directly in a unit test. Every field can be
 * overridden; the idempotency key follows the handler id and event id as in production.
 *
 * @example
 * await projection.onOrder(event, createChangeContext({ event, attempt: 2 }));
 */
export function createChangeContext(
  overrides: Partial<ChangeContextInit> & { event?: ChangeEvent } = {},
): ChangeContext {
  const { event, ...init } = overrides;
  const eventId = init.eventId ?? (event?._id as ResumeToken | undefined)?._data ?? 'test-event';
  const handlerId = init.handlerId ?? 'test-handler';
  return new ChangeContext({
    eventId,
    handlerId,
    idempotencyKey: idempotencyKeyOf(handlerId, eventId),
    topic: 'test-topic',
    partition: 0,
    offset: '0',
    epoch: 1,
    attempt: 1,
    maxAttempts: 1,
    session: createTestingSession(),
    transactional: true,
    key: undefined,
    headers: {},
    ...init,
  });
}
