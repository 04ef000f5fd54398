import { ConfigResourceTypes, type Admin } from 'kafkajs';

/** Kafka's internal topic of transaction state, created by the first transactional producer. */
const TRANSACTION_STATE_TOPIC = '__transaction_state';
const FACTOR = 'transaction.state.log.replication.factor';
const MIN_ISR = 'transaction.state.log.min.isr';

/**
 * Thrown when the brokers can never host a transaction coordinator: the transaction state topic does
 * not exist yet and cannot be created with the brokers' settings. Its name is what
 * `transactionSetupFault` classifies (a stop, not a retry: waiting does not fix a setting).
 */
export class TransactionLogUnavailableError extends Error {
  constructor(readonly setting: string) {
    super(setting);
    this.name = 'TransactionLogUnavailable';
  }
}

/**
 * Why this cluster cannot create its transaction state topic, or null. Kafka creates
 * `__transaction_state` on the first InitProducerId with `transaction.state.log.replication.factor`
 * replicas and refuses while fewer brokers are alive, answering COORDINATOR_NOT_AVAILABLE for ever:
 * without this check an exactly-once relay would retry a misconfigured single-broker cluster
 * silently. Settings it cannot read (no DESCRIBE_CONFIGS ACL) are not judged.
 */
export async function transactionLogFault(
  admin: Admin,
  brokerIds: readonly number[],
): Promise<string | null> {
  if ((await admin.listTopics()).includes(TRANSACTION_STATE_TOPIC) || brokerIds.length === 0) return null;
  let entries: Array<{ configName: string; configValue: string }>;
  try {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        { type: ConfigResourceTypes.BROKER, name: String(brokerIds[0]), configNames: [FACTOR, MIN_ISR] },
      ],
    });
    entries = resources[0]?.configEntries ?? [];
  } catch {
    return null;
  }
  const value = (name: string) => Number(entries.find((e) => e.configName === name)?.configValue);
  const factor = value(FACTOR);
  const minIsr = value(MIN_ISR);
  if (factor > brokerIds.length)
    return `${FACTOR} is ${factor} but the cluster has ${brokerIds.length} broker(s)`;
  if (minIsr > factor) return `${MIN_ISR} is ${minIsr}, above ${FACTOR} (${factor})`;
  return null;
}
