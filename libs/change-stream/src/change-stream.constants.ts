/** Injection tokens and metadata keys. Internal: users configure through ChangeStreamModule. */

/** The resolved options: user options merged with DEFAULTS and validated at start-up. */
export const CHANGE_STREAM_OPTIONS = Symbol('CHANGE_STREAM_OPTIONS');
/** The MongoClient the library uses (the user's own, a mongoose connection's, or one it created from a URI). */
export const CHANGE_STREAM_MONGO_CLIENT = Symbol('CHANGE_STREAM_MONGO_CLIENT');
/** The kafkajs `Kafka` instance (the user's own or one created from brokers). */
export const CHANGE_STREAM_KAFKA = Symbol('CHANGE_STREAM_KAFKA');
/** Metadata key of @ChangeHandler. */
export const CHANGE_HANDLER_METADATA = 'change_stream:handler';
