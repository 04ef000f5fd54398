import type { Admin } from 'kafkajs';
import { transactionSetupFault } from './kafka-errors';
import { TransactionLogUnavailableError, transactionLogFault } from './transaction-log';

/** An admin client of a cluster with these topics and broker settings (or one that may not read them). */
function admin(topics: string[], settings: Record<string, string> | 'denied'): Admin {
  return {
    listTopics: async () => topics,
    describeConfigs: async () => {
      if (settings === 'denied') throw new Error('CLUSTER_AUTHORIZATION_FAILED');
      return {
        resources: [
          {
            configEntries: Object.entries(settings).map(([configName, configValue]) => ({
              configName,
              configValue,
            })),
          },
        ],
      };
    },
  } as unknown as Admin;
}

const FACTOR = 'transaction.state.log.replication.factor';
const MIN_ISR = 'transaction.state.log.min.isr';

describe('transactionLogFault', () => {
  it("names the replication factor a one-broker cluster can never meet (Kafka's default is 3)", async () => {
    expect(await transactionLogFault(admin([], { [FACTOR]: '3', [MIN_ISR]: '2' }), [1])).toBe(
      `${FACTOR} is 3 but the cluster has 1 broker(s)`,
    );
  });

  it('names a min.isr above the replication factor', async () => {
    expect(await transactionLogFault(admin([], { [FACTOR]: '1', [MIN_ISR]: '2' }), [1])).toBe(
      `${MIN_ISR} is 2, above ${FACTOR} (1)`,
    );
  });

  it('finds nothing wrong when the settings fit, the topic exists already, or the settings cannot be read', async () => {
    expect(await transactionLogFault(admin([], { [FACTOR]: '3', [MIN_ISR]: '2' }), [1, 2, 3])).toBeNull();
    expect(await transactionLogFault(admin(['__transaction_state'], { [FACTOR]: '3' }), [1])).toBeNull();
    expect(await transactionLogFault(admin([], 'denied'), [1])).toBeNull();
  });

  it('is a stop naming the setting, not a retry', () => {
    const setup = { transactionalId: 't', topics: [], checkpointTopic: 'c', transactionTimeoutMs: 60_000 };
    expect(
      transactionSetupFault(
        new TransactionLogUnavailableError(`${FACTOR} is 3 but the cluster has 1 broker(s)`),
        setup,
      ),
    ).toEqual({
      type: 'TransactionLogUnavailable',
      stop: true,
      fix: expect.stringMatching(
        /transaction.state.log.replication.factor is 3 but the cluster has 1 broker\(s\)/,
      ),
    });
  });
});
