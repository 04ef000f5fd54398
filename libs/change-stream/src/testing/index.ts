/**
 * `nest-change-stream/testing`: unit-test `@ChangeHandler` classes without Kafka or MongoDB.
 */
export { ChangeStreamTestingModule, type ChangeStreamTestingOptions } from './change-stream-testing.module';
export {
  ChangeStreamTester,
  type DiscoveredChangeHandler,
  type TestDeliveryOptions,
} from './change-stream.tester';
export {
  changeEvents,
  newEventId,
  toKafkaMessage,
  TEST_DATABASE,
  type EventBuildOptions,
  type MarkerBuildOptions,
} from './change-event.builders';
export { createChangeContext } from './change-context.factory';
export { createTestingSession } from './testing-session';
export type { DispatchReport, HandlerReport, HandlerOutcome } from '../worker/dispatch-report';
export type { DeadLetter } from '../worker/dead-letter';
