/**
 * The storage layer without sockets: updates where mingo falls short, index keys, transactions.
 */
import { Decimal128, Long, Timestamp, type Document } from 'bson';
import { MongoServerError } from '../errors/server-error';
import { Index } from './indexes';
import { Store } from './store';
import { applyUpdate, buildUpsertDocument, parseUpdate } from './update';
import { keyOf } from './values';
import { Writer } from './writer';
import { WriteBlocked } from './locks';
import { Transaction } from './transaction';
import { SessionRegistry } from '../services/sessions';

const update = (doc: Document, spec: Document | Document[], context = {}) =>
  applyUpdate(doc, parseUpdate(spec), context);
const codeOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return (error as MongoServerError).code;
  }
  return undefined;
};

describe('update', () => {
  it('applies $setOnInsert only to the document an upsert inserts, seeded from the filter', () => {
    const spec = parseUpdate({ $set: { a: 1 }, $setOnInsert: { created: true } });
    expect(applyUpdate({ _id: 1 }, spec)).toEqual({ _id: 1, a: 1 });
    const inserted = buildUpsertDocument(
      { $and: [{ 'k.x': 'v' }], tier: { $eq: 'gold' }, n: { $gt: 1 } },
      spec,
      {},
    );
    expect(inserted).toEqual({ _id: expect.anything(), k: { x: 'v' }, tier: 'gold', a: 1, created: true });
    expect(Object.keys(inserted)[0]).toBe('_id');
  });

  it('does $inc / $mul on Long beyond 2^53 and on Decimal128 exactly', () => {
    const big = Long.fromString('9007199254740993');
    const result = update(
      { _id: 1, big, dec: Decimal128.fromString('0.1') },
      { $inc: { big: 1, dec: Decimal128.fromString('0.2') } },
    );
    expect(result.big).toEqual(Long.fromString('9007199254740994'));
    expect(result.dec.toString()).toBe('0.3');
    expect(update({ _id: 1, n: 3 }, { $mul: { n: 2, missing: 5 } })).toEqual({ _id: 1, n: 6, missing: 0 });
    expect(update({ _id: 1 }, { $inc: { 'a.b': 2 } })).toEqual({ _id: 1, a: { b: 2 } });
  });

  it.each([
    ['$inc on a string', { s: 'x' }, { $inc: { s: 1 } }, 14],
    ['$inc by a string', {}, { $inc: { n: 'one' } }, 14],
    ['$push onto a string', { s: 'x' }, { $push: { s: 1 } }, 2],
    ['$set under a scalar', { a: 5 }, { $set: { 'a.b': 1 } }, 28],
    ['conflicting paths', {}, { $set: { a: 1 }, $inc: { 'a.b': 1 } }, 40],
    ['an unknown modifier', {}, { $frob: { a: 1 } }, 9],
    ['changing _id', {}, { $set: { _id: 2 } }, 66],
  ])('refuses %s as mongod does', (_what, doc, spec, code) => {
    expect(codeOf(() => update({ _id: 1, ...doc }, spec))).toBe(code);
  });

  it('sets Timestamps for $currentDate { $type: "timestamp" } and keeps _id through replacements', () => {
    expect(update({ _id: 1 }, { $currentDate: { at: { $type: 'timestamp' }, on: true } })).toEqual({
      _id: 1,
      at: expect.any(Timestamp),
      on: expect.any(Date),
    });
    expect(update({ _id: 1, a: 1 }, { b: 2 })).toEqual({ _id: 1, b: 2 });
    expect(codeOf(() => update({ _id: 1 }, { _id: 2, b: 2 }))).toBe(66);
  });
});

describe('index keys', () => {
  it('treats numbers of every width as equal', () => {
    const keys = [1, Long.fromNumber(1), Decimal128.fromString('1'), Decimal128.fromString('1.0')].map(keyOf);
    expect(new Set(keys).size).toBe(1);
  });

  it('enforces unique keys per array element, skipping sparse and partial exclusions', () => {
    const unique = new Index({ v: 2, key: { tags: 1 }, name: 'tags_1', unique: true });
    unique.add({ _id: 1, tags: ['a', 'b'] }, 'one');
    expect(() => unique.check('db.c', { _id: 2, tags: ['c', 'b'] }, 'two')).toThrow(
      /dup key: \{ tags: "b" \}/,
    );

    const sparse = new Index({ v: 2, key: { email: 1 }, name: 'email_1', unique: true, sparse: true });
    sparse.add({ _id: 1 }, 'one');
    expect(() => sparse.check('db.c', { _id: 2 }, 'two')).not.toThrow();

    const partial = new Index({
      v: 2,
      key: { email: 1 },
      name: 'p',
      unique: true,
      partialFilterExpression: { active: true },
    });
    partial.add({ _id: 1, email: 'x', active: false }, 'one');
    expect(() => partial.check('db.c', { _id: 2, email: 'x', active: true }, 'two')).not.toThrow();
  });
});

describe('transactions', () => {
  function setup() {
    const store = new Store();
    const { collection } = store.create('db', 'c');
    new Writer(store).insert(collection, { _id: 1, n: 0 });
    return { store, collection };
  }

  const inTransaction = (store: Store, txn: Transaction) =>
    new Writer(store, { txn, lsid: { id: 'session' }, txnNumber: Long.fromNumber(txn.txnNumber) });

  it('keeps writes private until commit, then applies them with their events', () => {
    const { store, collection } = setup();
    const txn = new Transaction(1);
    const writer = new Writer(store, { txn, lsid: { id: 'session' }, txnNumber: Long.fromNumber(1) });
    writer.insert(collection, { _id: 2 });
    writer.update(collection, collection.data.get(keyOf(1))!, { _id: 1, n: 1 }, { $set: { n: 1 } });
    expect([...collection.data.docs.values()]).toEqual([{ _id: 1, n: 0 }]);
    expect([...writer.data(collection).docs.values()]).toEqual([{ _id: 1, n: 1 }, { _id: 2 }]);
    txn.commit(store);
    expect([...collection.data.docs.values()]).toEqual([{ _id: 1, n: 1 }, { _id: 2 }]);
    expect(txn.events.map((event) => [event.op, event.txnNumber?.toNumber()])).toEqual([
      ['insert', 1],
      ['update', 1],
    ]);
  });

  it('fails a write to a document changed after the snapshot with a TransientTransactionError WriteConflict', () => {
    const { store, collection } = setup();
    const txn = new Transaction(1);
    const writer = inTransaction(store, txn);
    const seen = writer.data(collection).get(keyOf(1))!;
    new Writer(store).update(collection, collection.data.get(keyOf(1))!, { _id: 1, n: 5 });
    expect(() => writer.update(collection, seen, { _id: 1, n: 1 })).toThrow(
      expect.objectContaining({ code: 112, errorLabels: ['TransientTransactionError'] }),
    );
    expect(collection.data.get(keyOf(1))).toEqual({ _id: 1, n: 5 });
  });

  it('blocks a write outside a transaction (WriteBlocked) while an open transaction holds the document', () => {
    const { store, collection } = setup();
    const txn = new Transaction(1);
    const writer = inTransaction(store, txn);
    writer.update(collection, writer.data(collection).get(keyOf(1))!, { _id: 1, n: 1 });
    const outside = new Writer(store);
    const blocked = () => outside.update(collection, collection.data.get(keyOf(1))!, { _id: 1, n: 5 });
    expect(blocked).toThrow(WriteBlocked);
    expect(() => inTransaction(store, new Transaction(2)).delete(collection, { _id: 1, n: 0 })).toThrow(
      expect.objectContaining({ code: 112 }),
    );
    txn.abort();
    blocked();
    expect(collection.data.get(keyOf(1))).toEqual({ _id: 1, n: 5 });
  });

  it('reads a snapshot taken at first touch, whatever is committed after it', () => {
    const { store, collection } = setup();
    const outside = new Writer(store);
    outside.insert(collection, { _id: 2, n: 0 });
    const txn = new Transaction(1);
    const writer = inTransaction(store, txn);
    expect(writer.data(collection).get(keyOf(1))).toEqual({ _id: 1, n: 0 });
    outside.update(collection, collection.data.get(keyOf(1))!, { _id: 1, n: 5 });
    outside.delete(collection, collection.data.get(keyOf(2))!);
    outside.insert(collection, { _id: 3, n: 0 });
    writer.insert(collection, { _id: 4 });
    const view = writer.data(collection);
    expect(view.get(keyOf(1))).toEqual({ _id: 1, n: 0 });
    expect(view.candidates({ _id: 2 })).toEqual([{ _id: 2, n: 0 }]);
    expect(view.candidates({ _id: 3 })).toEqual([]);
    // $in on _id is answered from the keys too (as the _id index would), in the order of the list
    expect(view.candidates({ _id: { $in: [4, 3, 1, 4] } })).toEqual([{ _id: 4 }, { _id: 1, n: 0 }]);
    expect([...view.docs.values()]).toEqual([{ _id: 1, n: 0 }, { _id: 2, n: 0 }, { _id: 4 }]);
    // A second transaction opened later sees the later state; both read their own.
    const later = new Transaction(2);
    expect([...inTransaction(store, later).data(collection).docs.values()]).toEqual([
      { _id: 1, n: 5 },
      { _id: 3, n: 0 },
    ]);
    txn.commit(store);
    later.abort();
    expect([...collection.data.docs.values()]).toEqual([{ _id: 1, n: 5 }, { _id: 3, n: 0 }, { _id: 4 }]);
  });

  it('checks unique keys against its snapshot; a key changed since the snapshot is a WriteConflict', () => {
    const store = new Store();
    const { collection } = store.create('db', 'c');
    collection.data.addIndex({ v: 2, key: { email: 1 }, name: 'email_1', unique: true });
    const outside = new Writer(store);
    outside.insert(collection, { _id: 1, email: 'a' });

    // Held in the snapshot, released by a commit after it: a WriteConflict (the key changed since).
    const first = new Transaction(1);
    const writer = inTransaction(store, first);
    writer.data(collection);
    outside.delete(collection, collection.data.get(keyOf(1))!);
    expect(codeOf(() => writer.insert(collection, { _id: 2, email: 'a' }))).toBe(112);
    first.abort();

    // Taken by a commit after the snapshot: invisible to the transaction, a WriteConflict at the insert.
    const second = new Transaction(2);
    const other = inTransaction(store, second);
    other.data(collection);
    outside.insert(collection, { _id: 3, email: 'b' });
    expect(codeOf(() => other.insert(collection, { _id: 4, email: 'b' }))).toBe(112);
    second.abort();
    expect([...collection.data.docs.values()]).toEqual([{ _id: 3, email: 'b' }]);

    // Held in the snapshot by an unchanged document: a DuplicateKey.
    const dup = new Transaction(4);
    expect(codeOf(() => inTransaction(store, dup).insert(collection, { _id: 8, email: 'b' }))).toBe(11000);
    dup.abort();

    // A key moved between documents within one transaction commits.
    const third = new Transaction(3);
    const mover = inTransaction(store, third);
    mover.update(collection, mover.data(collection).get(keyOf(3))!, { _id: 3, email: 'c' });
    mover.insert(collection, { _id: 5, email: 'b' });
    expect(codeOf(() => mover.insert(collection, { _id: 6, email: 'c' }))).toBe(11000);
    third.commit(store);
    expect([...collection.data.docs.values()]).toEqual([
      { _id: 3, email: 'c' },
      { _id: 5, email: 'b' },
    ]);
    expect(codeOf(() => outside.insert(collection, { _id: 7, email: 'b' }))).toBe(11000);
  });

  it('commits concurrent transactions on different documents, each over its own snapshot', () => {
    const { store, collection } = setup();
    const txns = [1, 2, 3].map((n) => new Transaction(n));
    txns.forEach((txn, i) => inTransaction(store, txn).insert(collection, { _id: 10 + i }));
    txns[1].commit(store);
    txns[0].commit(store);
    const writer = inTransaction(store, txns[2]);
    expect(writer.data(collection).get(keyOf(10))).toBeUndefined();
    writer.update(collection, writer.data(collection).get(keyOf(1))!, { _id: 1, n: 1 });
    txns[2].commit(store);
    expect([...collection.data.docs.values()]).toEqual([
      { _id: 1, n: 1 },
      { _id: 11 },
      { _id: 10 },
      { _id: 12 },
    ]);
  });

  it('aborts a transaction left in progress past the lifetime limit, as mongod does', () => {
    jest.useFakeTimers({ now: 1_000_000 });
    try {
      const sessions = new SessionRegistry(60_000);
      const lsid = { id: 'abandoned' };
      const txn = sessions.get(lsid).transactionFor(1, true);
      jest.setSystemTime(1_000_000 + 59_000);
      sessions.get({ id: 'other' });
      expect(txn.state).toBe('inProgress');
      jest.setSystemTime(1_000_000 + 66_000);
      sessions.get({ id: 'other' });
      expect(txn.state).toBe('aborted');
      expect(() => sessions.get(lsid).transactionFor(1, false)).toThrow(
        expect.objectContaining({ code: 251 }),
      );
    } finally {
      jest.useRealTimers();
    }
  });
});
