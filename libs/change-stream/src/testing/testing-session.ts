import type { ClientSession } from 'mongodb';

/**
 * A stand-in for `ctx.session` in unit tests, where no MongoDB exists: it can be passed to mocked
 * models and repositories (`{ session: ctx.session }`) and compared by identity. It is not a
 * driver session; handing it to a real driver call fails.
 */
export function createTestingSession(): ClientSession {
  const session = {
    id: undefined,
    hasEnded: false,
    inTransaction: () => false,
    endSession: async () => undefined,
    toString: () => 'TestingClientSession',
  };
  return Object.freeze(session) as unknown as ClientSession;
}
