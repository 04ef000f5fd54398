/** Operations on the `testRunner` object that change state: fail points and createEntities. */
import { MongoClient, type ClientSession } from 'mongodb';
import { AssertionFailure, type RunnerHandler } from './types';

/** The address a session is pinned to (sharded transactions pin a mongos). */
function pinnedAddress(session: ClientSession): string {
  const transaction = session.transaction as unknown as {
    isPinned: boolean;
    server?: { description: { address: string } };
  };
  if (!session.isPinned || !transaction.server)
    throw new AssertionFailure('targetedFailPoint needs a session pinned to a server');
  return transaction.server.description.address;
}

export const TEST_RUNNER_HANDLERS: Record<string, RunnerHandler> = {
  failPoint: async ({ client, failPoint }, { entities, failPoints }) => {
    const mongoClient = entities.client(client).client;
    await mongoClient.db('admin').command(failPoint);
    failPoints.push({ client: mongoClient, name: failPoint.configureFailPoint });
  },
  targetedFailPoint: async ({ session, failPoint }, { failPoints }) => {
    const direct = await new MongoClient(
      `mongodb://${pinnedAddress(session)}/?directConnection=true`,
    ).connect();
    failPoints.push({ client: direct, name: failPoint.configureFailPoint, ownsClient: true });
    await direct.db('admin').command(failPoint);
  },
  createEntities: ({ entities }, context) => context.entities.create(entities),
};
