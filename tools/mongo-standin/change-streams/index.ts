/**
 * The change-stream half of the MongoDB stand-in (see contract.ts): an oplog with bounded
 * retention, ordered resume tokens and `$changeStream` cursors that behave like mongod 7.0's.
 */
export { createChangeStreamEngine, ENGINE_DEFAULTS } from './engine';
export type { ChangeStreamEngineHandle, ChangeStreamEngineOptions } from './engine';
export { decodeResumeToken, encodeResumeToken, comparePositions, TokenType } from './resume-token';
export type { ResumeToken, ResumeTokenData, StreamPosition } from './resume-token';
export { describeUpdate } from './update-description';
export type { UpdateDescription } from './update-description';
