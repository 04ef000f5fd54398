/** How the relay classifies Kafka errors. Internal. */

/**
 * kafkajs error types no retry can fix: the record or batch is too large, the topic name is
 * invalid, or this client is not authorized. Retrying them would stall the stream forever.
 */
const UNRETRIABLE = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_TOPIC_EXCEPTION',
  'INVALID_RECORD',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'POLICY_VIOLATION',
]);

/**
 * The kafkajs protocol error type of `error` (e.g. `MESSAGE_TOO_LARGE`), looked up on the error and
 * its causes: kafkajs wraps a broker's error in KafkaJSNonRetriableError with the original as `cause`.
 * Errors from the producer thread carry it as `type` too.
 */
export function kafkaErrorType(error: unknown): string | undefined {
  let current = error as { type?: unknown; cause?: unknown } | null | undefined;
  for (let depth = 0; current && depth < 5; depth++) {
    // NOTE: kafkajs 2.2 predates PRODUCER_FENCED (code 90, KIP-588): it calls it an unknown error code.
    if (
      current.type === 'KAFKAJS_UNKNOWN_ERROR_CODE' &&
      /error code 90\b/.test(String((current as Error).message))
    )
      return 'PRODUCER_FENCED';
    if (typeof current.type === 'string') return current.type;
    current = current.cause as typeof current;
  }
  return undefined;
}

/** The type of a Kafka error that cannot succeed on retry, or undefined for any other error. */
export function unretriableKafkaError(error: unknown): string | undefined {
  const type = kafkaErrorType(error);
  return type && UNRETRIABLE.has(type) ? type : undefined;
}

/**
 * kafkajs error types that mean another producer with this `transactional.id` took over (its
 * InitProducerId bumped the epoch), or the broker no longer maps the id to this producer.
 */
const FENCED = new Set(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING']);

/** The type of an error that says this transactional producer was fenced, or undefined. */
export function producerFenced(error: unknown): string | undefined {
  const type = kafkaErrorType(error);
  return type && FENCED.has(type) ? type : undefined;
}

/** What a failed InitProducerId or transaction says about the brokers' setup. */
export interface TransactionSetupFault {
  type: string;
  /** True when only an operator can fix it (an ACL, a setting): the stream stops by policy. */
  stop: boolean;
  /** The broker setting or ACL to fix. */
  fix: string;
}

/** Types kafkajs reports when the transaction coordinator cannot be found (its log has too few replicas). */
const NO_COORDINATOR = new Set([
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'COORDINATOR_NOT_AVAILABLE',
  'NOT_COORDINATOR',
]);

/**
 * The setting or ACL behind a transactional producer's failure, or undefined for other errors.
 * `setup.transactionalId` and `setup.topics` go into the ACLs named.
 */
export function transactionSetupFault(
  error: unknown,
  setup: {
    transactionalId: string;
    topics: readonly string[];
    checkpointTopic: string;
    transactionTimeoutMs: number;
  },
): TransactionSetupFault | undefined {
  const type = kafkaErrorType(error) ?? (error as Error | undefined)?.name;
  const topics = setup.topics.join(', ');
  switch (type) {
    case 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED':
      return {
        type,
        stop: true,
        fix: `ACL: WRITE and DESCRIBE on TransactionalId "${setup.transactionalId}"`,
      };
    case 'CLUSTER_AUTHORIZATION_FAILED':
      return {
        type,
        stop: true,
        fix: 'ACL: IDEMPOTENT_WRITE on the Cluster (brokers before 3.0 need it for idempotent producers)',
      };
    case 'GROUP_AUTHORIZATION_FAILED':
      // NOTE: the takeover reads the checkpoint topic through a consumer group of its own.
      return {
        type,
        stop: true,
        fix: `ACL: READ on the consumer groups prefixed "${setup.checkpointTopic}.reader." and READ on the topic ${setup.checkpointTopic}`,
      };
    case 'TOPIC_AUTHORIZATION_FAILED':
      return { type, stop: true, fix: `ACL: WRITE and DESCRIBE on the topics ${topics}` };
    case 'INVALID_TRANSACTION_TIMEOUT':
      return {
        type,
        stop: true,
        fix: `relay.transactionTimeoutMs (${setup.transactionTimeoutMs} ms) must not exceed the brokers' transaction.max.timeout.ms`,
      };
    case 'UNSUPPORTED_VERSION':
    case 'UNSUPPORTED_FOR_MESSAGE_FORMAT':
      return { type, stop: true, fix: 'brokers with transactions (Kafka 0.11 or later, message format v2)' };
    case 'KafkaJSGroupCoordinatorNotFound':
      return { type, stop: false, fix: TRANSACTION_LOG_FIX };
    case 'TransactionLogUnavailable':
      // NOTE: read off the brokers' settings (transactionLogFault): no retry places a coordinator.
      return { type, stop: true, fix: `${TRANSACTION_LOG_FIX} (${(error as Error).message})` };
    default:
      return type && NO_COORDINATOR.has(type) ? { type, stop: false, fix: TRANSACTION_LOG_FIX } : undefined;
  }
}

const TRANSACTION_LOG_FIX =
  'brokers with a transaction coordinator: transaction.state.log.replication.factor at most the live brokers, ' +
  'and transaction.state.log.min.isr at most that factor';
