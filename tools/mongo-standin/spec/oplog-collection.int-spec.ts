/**
 * `local.oplog.rs` on the stand-in (issue 15, item 12), as mongod serves it: the retained oplog in
 * natural (time) order, one entry per write with `ts`, `op`, `ns`, `o` and `wall`, readable with
 * `sort: { $natural: 1 | -1 }`; entries that retention drops leave it (a capped collection), at
 * the same moment change streams can no longer resume from them (ChangeStreamHistoryLost 286).
 */
import { Timestamp, type Document } from 'bson';
import { MongoClient, MongoServerError } from 'mongodb';
import { startMongoStandin, type MongoStandin } from '..';

describe('MongoDB stand-in: local.oplog.rs', () => {
  let mongo: MongoStandin;
  let client: MongoClient;
  const oplog = () => client.db('local').collection<Document>('oplog.rs');
  const ends = async () => {
    const projection = { ts: 1, _id: 0 };
    const [first, last] = await Promise.all([
      oplog().findOne({}, { sort: { $natural: 1 }, projection }),
      oplog().findOne({}, { sort: { $natural: -1 }, projection }),
    ]);
    return { first: first?.ts as Timestamp | undefined, last: last?.ts as Timestamp | undefined };
  };

  beforeAll(async () => {
    mongo = await startMongoStandin({ oplogMaxEntries: 10, noopIntervalMs: 0 });
    client = await new MongoClient(mongo.url, { serverSelectionTimeoutMS: 5_000 }).connect();
  });
  afterAll(async () => {
    await client?.close();
    await mongo?.stop();
  });

  it('lists the writes in time order with ts, op, ns, o and wall', async () => {
    const items = client.db('oplogtest').collection<{ _id: number; n?: number }>('items');
    await items.insertOne({ _id: 1, n: 1 });
    await items.updateOne({ _id: 1 }, { $set: { n: 2 } });
    await items.deleteOne({ _id: 1 });
    const entries = await oplog().find({ ns: 'oplogtest.items' }).sort({ $natural: 1 }).toArray();
    expect(entries.map((e) => e.op)).toEqual(['i', 'u', 'd']);
    expect(entries[0]).toMatchObject({ ns: 'oplogtest.items', o: { _id: 1, n: 1 } });
    for (const entry of entries) {
      expect(entry.ts).toBeInstanceOf(Timestamp);
      expect(entry.wall).toBeInstanceOf(Date);
    }
    const times = entries.map((e) => (e.ts as Timestamp).toString());
    expect([...times].sort((a, b) => Number(BigInt(a) - BigInt(b)))).toEqual(times);
    const newest = await oplog().find({}).sort({ $natural: -1 }).limit(1).next();
    expect(newest!.op).toBe('d');
  });

  it('drops the oldest entries beyond its size, as change-stream history is lost', async () => {
    const items = client.db('oplogtest').collection<{ _id: number }>('capped');
    const stream = items.watch();
    await stream.tryNext();
    const resumeToken = stream.resumeToken;
    await stream.close();
    const before = await ends();
    for (let n = 0; n < 11; n++) await items.insertOne({ _id: n });
    const after = await ends();
    expect(await oplog().find().toArray()).toHaveLength(10);
    expect(after.first!.greaterThan(before.last!)).toBe(true);
    // The first retained write is the second insert: the first one was dropped with its history.
    expect((await oplog().findOne({}, { sort: { $natural: 1 } }))!.o).toEqual({ _id: 1 });
    const resumed = items.watch([], { resumeAfter: resumeToken });
    await expect(resumed.tryNext()).rejects.toThrow(MongoServerError);
    await resumed.close();
  });

  it('is empty after truncateOplog(), like the change-stream history', async () => {
    mongo.truncateOplog();
    expect(await oplog().find().toArray()).toHaveLength(0);
    expect(await ends()).toEqual({ first: undefined, last: undefined });
  });
});
