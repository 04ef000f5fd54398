/** The `mongo` section: where MongoDB is (a URI, a MongoClient or a mongoose Connection). */
import { InvalidOptionsError } from '../errors/invalid-options.error';
import type {
  MongoConnectionOptions,
  ResolvedChangeStreamOptions,
} from '../interfaces/change-stream-options.interface';
import { exactlyOne, hasMethods, isObject, optionKeys, section } from '../utils/option-validators';

const MONGO_KEYS = optionKeys<MongoConnectionOptions>({
  uri: true,
  clientOptions: true,
  client: true,
  connection: true,
});

/** The `mongo` section, checked: exactly one source, and `clientOptions` only with `uri`. */
export function resolveMongo(value: unknown): ResolvedChangeStreamOptions['mongo'] {
  const mongo = section(value, 'mongo', true, MONGO_KEYS)!;
  const source = exactlyOne(mongo, 'mongo', ['uri', 'client', 'connection']);
  if (source === 'uri' && (typeof mongo.uri !== 'string' || !/^mongodb(\+srv)?:\/\/./.test(mongo.uri))) {
    throw new InvalidOptionsError(
      'mongo.uri',
      "a connection string starting with 'mongodb://' or 'mongodb+srv://'",
      mongo.uri,
    );
  }
  if (source === 'client' && !hasMethods(mongo.client, 'db', 'startSession')) {
    throw new InvalidOptionsError('mongo.client', 'a MongoClient from the mongodb driver', mongo.client);
  }
  if (source === 'connection' && !hasMethods(mongo.connection, 'getClient')) {
    throw new InvalidOptionsError(
      'mongo.connection',
      'a mongoose Connection (an object with getClient())',
      mongo.connection,
    );
  }
  if (mongo.clientOptions !== undefined && (source !== 'uri' || !isObject(mongo.clientOptions))) {
    throw new InvalidOptionsError(
      'mongo.clientOptions',
      'an object of MongoClientOptions, together with "mongo.uri"',
      mongo.clientOptions,
    );
  }
  return mongo as ResolvedChangeStreamOptions['mongo'];
}
