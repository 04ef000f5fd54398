/**
 * The wire protocol on a raw socket: the legacy OP_QUERY handshake, OP_MSG flags (moreToCome,
 * checksum), malformed messages, and retryable-write replay by lsid/txnNumber.
 */
import { deserialize, Long, serialize, UUID, type Document } from 'bson';
import { MongoClient } from 'mongodb';
import { startMongoStandin, type MongoStandin } from '..';
import { RawMongoClient } from './raw-client';
import { encodeMsg, MsgFlag, OpCode } from '../wire/protocol';

/** A legacy OP_QUERY on admin.$cmd, as drivers send their first handshake. */
function opQuery(requestId: number, query: Document): Buffer {
  const namespace = Buffer.from('admin.$cmd\0');
  const body = Buffer.from(serialize(query));
  const header = Buffer.alloc(20);
  const fixed = Buffer.alloc(8);
  fixed.writeInt32LE(0, 0); // numberToSkip
  fixed.writeInt32LE(-1, 4); // numberToReturn
  const length = header.length + namespace.length + fixed.length + body.length;
  header.writeInt32LE(length, 0);
  header.writeInt32LE(requestId, 4);
  header.writeInt32LE(0, 8);
  header.writeInt32LE(OpCode.QUERY, 12);
  header.writeInt32LE(0, 16); // flags
  return Buffer.concat([header, namespace, fixed, body]);
}

/** Reads one whole reply message from a socket-like client. */
function nextMessage(socket: import('node:net').Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= 4 && buffered.length >= buffered.readInt32LE(0)) {
        socket.off('data', onData);
        resolve(buffered);
      }
    };
    socket.on('data', onData);
  });
}

describe('MongoDB stand-in: wire protocol', () => {
  let mongo: MongoStandin;
  const raws: RawMongoClient[] = [];
  const rawClient = async () => {
    const raw = await RawMongoClient.connect(mongo.port);
    raws.push(raw);
    return raw;
  };

  beforeAll(async () => {
    mongo = await startMongoStandin();
  });

  afterEach(() => {
    for (const raw of raws.splice(0)) raw.close();
  });

  afterAll(async () => {
    await mongo?.stop();
  });

  it('answers a legacy OP_QUERY isMaster with an OP_REPLY describing the rs0 primary', async () => {
    const { connect } = await import('node:net');
    const socket = connect(mongo.port, '127.0.0.1');
    try {
      const reply = nextMessage(socket);
      socket.write(
        opQuery(7, { isMaster: 1, helloOk: true, client: { application: { name: 'wire-spec' } } }),
      );
      const message = await reply;
      expect(message.readInt32LE(8)).toBe(7); // responseTo
      expect(message.readInt32LE(12)).toBe(OpCode.REPLY);
      expect(message.readInt32LE(32)).toBe(1); // numberReturned
      expect(deserialize(message.subarray(36))).toMatchObject({
        ok: 1,
        helloOk: true,
        ismaster: true,
        isWritablePrimary: true,
        setName: 'rs0',
        hosts: [`127.0.0.1:${mongo.port}`],
        me: `127.0.0.1:${mongo.port}`,
        primary: `127.0.0.1:${mongo.port}`,
        maxWireVersion: 21,
        minWireVersion: 0,
        logicalSessionTimeoutMinutes: 30,
        maxWriteBatchSize: 100_000,
        connectionId: expect.any(Number),
        operationTime: expect.anything(),
        $clusterTime: {
          clusterTime: expect.anything(),
          signature: { hash: expect.anything(), keyId: expect.anything() },
        },
      });
    } finally {
      socket.destroy();
    }
  });

  it('sends no reply for moreToCome and executes the command', async () => {
    const raw = await rawClient();
    raw.send(
      { insert: 'quiet', documents: [{ _id: 1 }], writeConcern: { w: 0 }, $db: 'wire' },
      MsgFlag.MORE_TO_COME,
    );
    const reply = await raw.command({ find: 'quiet', filter: {}, $db: 'wire' });
    expect(reply.cursor.firstBatch).toEqual([{ _id: 1 }]);
  });

  it('accepts an OP_MSG carrying a checksum', async () => {
    const raw = await rawClient();
    const message = encodeMsg(1, 0, { ping: 1, $db: 'admin' }, MsgFlag.CHECKSUM_PRESENT);
    const withChecksum = Buffer.concat([message, Buffer.alloc(4)]);
    withChecksum.writeInt32LE(withChecksum.length, 0);
    const reply = raw.nextReply();
    raw.write(withChecksum);
    await expect(reply).resolves.toMatchObject({ ok: 1 });
  });

  it.each([
    ['an impossible message length', Buffer.from([8, 0, 0, 0, 1, 0, 0, 0])],
    ['an unknown opCode', encodeMsg(1, 0, { ping: 1 }).fill(0x7f, 12, 13)],
    [
      'a BSON body overrunning the message',
      Buffer.concat([
        encodeMsg(1, 0, { ping: 1, $db: 'admin' }).subarray(0, 21),
        Buffer.from([200, 0, 0, 0, 0]),
      ]),
    ],
  ])('closes only the connection that sent %s', async (_what, bytes) => {
    const bad = await rawClient();
    const good = await rawClient();
    if (bytes.length >= 16) bytes.writeInt32LE(bytes.length, 0);
    bad.write(bytes);
    await bad.closed;
    await expect(good.command({ ping: 1, $db: 'admin' })).resolves.toMatchObject({ ok: 1 });
    const client = await new MongoClient(mongo.url, { serverSelectionTimeoutMS: 5_000 }).connect();
    try {
      await expect(client.db('wire').command({ ping: 1 })).resolves.toMatchObject({ ok: 1 });
    } finally {
      await client.close();
    }
  });

  it('answers a retried write (same lsid and txnNumber) from its record instead of applying it again', async () => {
    const raw = await rawClient();
    const lsid = { id: new UUID() };
    await raw.command({ insert: 'retry', documents: [{ _id: 'counter', n: 0 }], $db: 'wire' });
    const increment = {
      update: 'retry',
      updates: [{ q: { _id: 'counter' }, u: { $inc: { n: 1 } } }],
      lsid,
      $db: 'wire',
    };
    const first = await raw.command({ ...increment, txnNumber: Long.fromNumber(1) });
    const retried = await raw.command({ ...increment, txnNumber: Long.fromNumber(1) });
    expect([first.n, first.nModified]).toEqual([1, 1]);
    expect([retried.n, retried.nModified]).toEqual([1, 1]);
    await raw.command({ ...increment, txnNumber: Long.fromNumber(2) });
    const tooOld = await raw.command({ ...increment, txnNumber: Long.fromNumber(1) });
    expect(tooOld).toMatchObject({ ok: 0, code: 225, codeName: 'TransactionTooOld' });
    const found = await raw.command({ find: 'retry', filter: { _id: 'counter' }, $db: 'wire' });
    expect(found.cursor.firstBatch).toEqual([{ _id: 'counter', n: 2 }]);
  });
});
