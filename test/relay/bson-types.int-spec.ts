/**
 * Issue 15, item 11: every BSON type survives MongoDB -> relay -> Kafka -> consumer decode exactly,
 * for stream events and for snapshot events. "Exactly" is checked on the BSON bytes (type tags
 * included, so Int32 vs Long vs Double, -0 and NaN count) and on the raw Kafka value's EJSON tags.
 *
 * Relies on mongod keeping stored types (an int64 stays int64, a whole double stays double, regex
 * flags are kept verbatim), which the stand-in models (tools/mongo-standin/spec/bson-types.int-spec.ts).
 */
import { Binary, serialize, type Document } from 'bson';
import type { MongoClient } from 'mongodb';
import { everyBsonType } from '../support/bson-types';
import { uniqueName, useGround } from '../support/ground';
import { waitFor } from '../support/wait';
import {
  connectMongo,
  relayOptions,
  readCheckpoint,
  startRelay,
  TopicReader,
  type RelayApp,
  type ReadMessage,
} from './support';

/** The EJSON tag each field of everyBsonType() must carry in the raw Kafka value. */
const EXPECTED_TAGS: Record<string, string> = {
  int32: '{"$numberInt":"7"}',
  longSmall: '{"$numberLong":"42"}',
  longLarge: '{"$numberLong":"9007199254740993"}',
  doubleWhole: '{"$numberDouble":"1.0"}',
  doubleFraction: '{"$numberDouble":"2.5"}',
  negativeZero: '{"$numberDouble":"-0.0"}',
  notANumber: '{"$numberDouble":"NaN"}',
  decimal: '{"$numberDecimal":"12.340"}',
  regex: '{"$regularExpression":{"pattern":"^a.b$","options":"ilmsux"}}',
  min: '{"$minKey":1}',
  max: '{"$maxKey":1}',
  code: '{"$code":"function () { return 1; }"}',
};

/** The `_bsontype` (or JS type) of every field, recursively: a type-for-type picture of a document. */
function typesOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(typesOf);
  if (value instanceof Date) return 'Date';
  if (value && typeof value === 'object') {
    const bsonType = (value as { _bsontype?: string })._bsontype;
    if (bsonType) return bsonType === 'Binary' ? `Binary:${(value as Binary).sub_type}` : bsonType;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, typesOf(v)]));
  }
  return typeof value;
}

/** Asserts the decoded fullDocument is `doc` type for type and byte for byte, and the raw value's tags. */
export function expectExactRoundTrip(message: ReadMessage, doc: Document): void {
  const raw = message.rawValue;
  const full = message.event.fullDocument as Document;
  expect(typesOf(full)).toEqual(typesOf(doc));
  expect(Buffer.from(serialize(full)).equals(Buffer.from(serialize(doc)))).toBe(true);
  for (const [field, tag] of Object.entries(EXPECTED_TAGS)) expect(raw).toContain(`"${field}":${tag}`);
  expect(raw).toMatch(/"binary4":\{"\$binary":\{"base64":"[^"]+","subType":"04"\}\}/);
  expect(raw).toContain(`"before1970":{"$date":{"$numberLong":"${doc.before1970.getTime()}"}}`);
}

describe('relay: BSON types round trip through Kafka (issue 15, item 11)', () => {
  const ground = useGround({ mongo: true, kafka: true });
  let mongo: MongoClient;
  let relay: RelayApp | undefined;
  let reader: TopicReader | undefined;

  beforeAll(async () => {
    mongo = await connectMongo(ground());
  });
  afterEach(async () => {
    await relay?.close();
    await reader?.stop();
    relay = reader = undefined;
  });
  afterAll(async () => {
    await mongo?.close();
  });

  const readBack = async (db: string) =>
    (reader = await new TopicReader(ground().kafkaBrokers, [`cdc.${db}.orders`]).start());

  it('a change event keeps every BSON type, from MongoDB to the consumer', async () => {
    const db = uniqueName('types');
    relay = await startRelay(relayOptions(ground(), { streams: [{ db, collection: 'orders' }] }));
    await waitFor(() => relay!.status().streams[0]?.epoch, { what: 'a leader' });
    const doc = everyBsonType();
    await mongo.db(db).collection('orders').insertOne(doc);

    await readBack(db);
    await reader!.waitFor((m) => m.some((x) => x.event.operationType === 'insert'), 'the insert');
    const insert = reader!.messages.find((x) => x.event.operationType === 'insert')!;
    expectExactRoundTrip(insert, doc);
  });

  it('a snapshot event keeps every BSON type too', async () => {
    const db = uniqueName('typesnap');
    const options = relayOptions(ground(), {
      streams: [{ db, collection: 'orders' }],
      onHistoryLost: 'resnapshot',
    });
    relay = await startRelay(options);
    await waitFor(async () => (await readCheckpoint(mongo, `${db}.orders`))?.resumeToken, {
      what: 'a checkpoint',
    });
    await relay.close();
    const doc = everyBsonType();
    await mongo.db(db).collection('orders').insertOne(doc);
    ground().mongo!.truncateOplog();
    relay = await startRelay(options);

    await readBack(db);
    await reader!.waitFor((m) => m.some((x) => x.event.operationType === 'snapshot'), 'the snapshot event');
    const snapshot = reader!.messages.find((x) => x.event.operationType === 'snapshot')!;
    expectExactRoundTrip(snapshot, doc);
  });
});
