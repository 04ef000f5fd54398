import { createHash } from 'node:crypto';

/**
 * The idempotency key of one handler's effect for one event: base64url SHA-256 of
 * `<handlerId>\n<eventId>`, 43 characters. The same on every redelivery and on every replica, and
 * short enough for the idempotency headers of outside APIs (e.g. Stripe's 255-character limit).
 */
export function idempotencyKeyOf(handlerId: string, eventId: string): string {
  return createHash('sha256').update(handlerId).update('\n').update(eventId).digest('base64url');
}
