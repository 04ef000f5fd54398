/**
 * nest-change-stream: MongoDB change streams to Kafka for NestJS, leader-elected with epoch-fenced
 * checkpoints, consumed by workers with exactly-once read-model effects.
 * Test helpers for handlers live in `nest-change-stream/testing`.
 */

// Module and options
export { ChangeStreamModule } from './change-stream.module';
export { DEFAULTS, WORKER_DEFAULTS } from './options/defaults';
export { topicFor } from './options/routing';
export type {
  ChangeStreamModuleOptions,
  MongoConnectionOptions,
  KafkaConnectionOptions,
  RedisConnectionOptions,
  LeaseOptions,
  StreamOptions,
  StreamOperationType,
  StorageOptions,
  RelayOptions,
  Namespace,
  ResolvedChangeStreamOptions,
  ResolvedStream,
  ResolvedRoles,
} from './interfaces/change-stream-options.interface';
export type { WorkerOptions, RetryPolicy, DedupeMode } from './interfaces/worker-options.interface';
export type { BackoffPolicy, BackoffOptions } from './interfaces/backoff.interface';
export {
  CHANGE_STREAM_KAFKA,
  CHANGE_STREAM_MONGO_CLIENT,
  CHANGE_STREAM_OPTIONS,
} from './change-stream.constants';

// Relay state (health and metrics read it)
export { ChangeStreamStatus } from './health/relay-status';
export type { RelayStatus, ListenerStatus } from './health/relay-status';
export type { StreamStatus, StreamRole, StreamRestart } from './health/stream-status';

// Handlers
export { ChangeHandler, ChangeBatchHandler } from './handlers/change-handler.decorator';
export type { ChangeHandlerOptions, ChangeBatchHandlerOptions } from './handlers/change-handler.decorator';
export { ChangeContext, ChangeBatchContext } from './handlers/change-context';
export type * from './events/change-event.interface';
export { CHANGE_OPERATION_TYPES } from './events/change-event.interface';

// Wire format (for consumers outside NestJS)
export { CHANGE_EVENT_HEADERS, CHANGE_EVENT_SCHEMA_VERSION } from './events/change-event.headers';
export {
  decodeChangeEvent,
  encodeChangeEvent,
  formatClusterTime,
  parseClusterTime,
} from './events/change-event.codec';
export type { DecodedChangeEvent, EncodedChangeEvent } from './events/change-event.codec';
export { defaultTopic, deadLetterTopic } from './options/routing';
export { DEAD_LETTER_HEADERS } from './worker/dead-letter.headers';
export { DeadLetterRedriver, REDRIVEN_FROM_HEADER } from './worker/dead-letter.redriver';
export type { RedriveOptions, RedriveReport } from './worker/dead-letter.redriver';

// Errors
export { InvalidOptionsError } from './errors/invalid-options.error';
export { FencedOutError } from './errors/fenced-out.error';
export { ProducerFencedError } from './errors/producer-fenced.error';
export { HistoryLostError } from './errors/history-lost.error';
export { LeaseLostError } from './errors/lease-lost.error';
export { StreamRejectedError } from './errors/stream-rejected.error';
export { UndecodableMessageError } from './errors/undecodable-message.error';
export { InvalidChangeHandlerError } from './errors/invalid-change-handler.error';
export { ChangeHandlerScopeError } from './errors/change-handler-scope.error';

// Health (@nestjs/terminus) and metrics (prom-client)
export { ChangeStreamHealthModule } from './health/change-stream-health.module';
export {
  ChangeStreamHealthIndicator,
  CHANGE_STREAM_HEALTH_OPTIONS,
} from './health/change-stream.health-indicator';
export { EventLoopHealthIndicator } from './health/event-loop.health-indicator';
export { assessHealth } from './health/change-stream-health';
export type { RestartHealth } from './health/restart-health';
export { assessReadiness } from './health/change-stream-readiness';
export type {
  ChangeStreamReadiness,
  ReadinessNeed,
  ReadinessOptions,
} from './health/change-stream-readiness';
export type {
  ChangeStreamHealth,
  ChangeStreamHealthOptions,
  StreamHealth,
} from './health/change-stream-health';
export { ChangeStreamInspector } from './health/change-stream.inspector';
export type { ChangeStreamReport, CheckpointInfo, OplogWindow } from './health/change-stream.inspector';
export { ChangeStreamMetricsModule } from './metrics/change-stream-metrics.module';
export { ChangeStreamMetrics, CHANGE_STREAM_METRICS_OPTIONS } from './metrics/change-stream.metrics';
export type { ChangeStreamMetricsOptions } from './metrics/change-stream.metrics';
export { ChangeHandlerMetricsInterceptor } from './metrics/change-handler-metrics.interceptor';
export {
  redactUri,
  redactText,
  redactError,
  redactOptionValue,
  isSecretOption,
  secretsOf,
  REDACTED,
  REDACTED_CREDENTIALS,
} from './utils/redact';
