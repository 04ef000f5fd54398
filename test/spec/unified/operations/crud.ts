/** CRUD operations of the unified format on collection (and database / client) entities. */
import type { Document } from 'bson';
import type {
  AnyClientBulkWriteModel,
  Collection,
  Db,
  FindOneAndReplaceOptions,
  MongoClient,
  ReturnDocument,
} from 'mongodb';
import type { Handler } from './types';

/** `returnDocument` is "Before" / "After" in the format, lower case in the driver. */
function findAndModifyOptions({ returnDocument, ...options }: Document): FindOneAndReplaceOptions {
  if (!returnDocument) return options;
  return { ...options, returnDocument: String(returnDocument).toLowerCase() as ReturnDocument };
}

/** Client bulk write results hold Maps keyed by model index; the format writes them as documents. */
export function plainMaps(value: unknown): unknown {
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), plainMaps(v)]));
  if (!value || typeof value !== 'object' || Array.isArray(value) || '_bsontype' in value) return value;
  const own = Object.entries(value);
  if (!own.some(([, v]) => v instanceof Map)) return value;
  return Object.fromEntries(own.map(([k, v]) => [k, plainMaps(v)]));
}

const clientBulkWrite: Handler = async (client: MongoClient, { models, ...options }) => {
  // NOTE: the format writes `{ insertOne: { namespace, document } }`; the driver takes `{ name, ... }`.
  const driverModels = (models as Document[]).map((model) => {
    const [name, fields] = Object.entries(model)[0];
    return { name, ...fields } as AnyClientBulkWriteModel<Document>;
  });
  return plainMaps(await client.bulkWrite(driverModels, options));
};

export const CRUD_HANDLERS: Record<string, Handler> = {
  // NOTE: copies, because the driver adds `_id` to the documents it inserts (withTransaction may retry).
  insertOne: (c: Collection, { document, ...options }) => c.insertOne({ ...document }, options),
  insertMany: (c: Collection, { documents, ...options }) =>
    c.insertMany(
      (documents as Document[]).map((d) => ({ ...d })),
      options,
    ),
  updateOne: (c: Collection, { filter, update, ...options }) => c.updateOne(filter, update, options),
  updateMany: (c: Collection, { filter, update, ...options }) => c.updateMany(filter, update, options),
  replaceOne: (c: Collection, { filter, replacement, ...options }) =>
    c.replaceOne(filter, replacement, options),
  deleteOne: (c: Collection, { filter, ...options }) => c.deleteOne(filter, options),
  deleteMany: (c: Collection, { filter, ...options }) => c.deleteMany(filter, options),
  bulkWrite: (c: Collection, { requests, ...options }) => c.bulkWrite(requests, options),
  clientBulkWrite,

  find: (c: Collection, { filter = {}, ...options }) => c.find(filter, options).toArray(),
  findOne: (c: Collection, { filter = {}, ...options }) => c.findOne(filter, options),
  findOneAndUpdate: (c: Collection, { filter, update, ...options }) =>
    c.findOneAndUpdate(filter, update, findAndModifyOptions(options)),
  findOneAndReplace: (c: Collection, { filter, replacement, ...options }) =>
    c.findOneAndReplace(filter, replacement, findAndModifyOptions(options)),
  findOneAndDelete: (c: Collection, { filter, ...options }) => c.findOneAndDelete(filter, options),
  aggregate: (c: Collection | Db, { pipeline, ...options }) => c.aggregate(pipeline, options).toArray(),
  countDocuments: (c: Collection, { filter = {}, ...options }) => c.countDocuments(filter, options),
  count: (c: Collection, { filter = {}, ...options }) => c.count(filter, options),
  estimatedDocumentCount: (c: Collection, options) => c.estimatedDocumentCount(options),
  distinct: (c: Collection, { fieldName, filter = {}, ...options }) => c.distinct(fieldName, filter, options),
};
