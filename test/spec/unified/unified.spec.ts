import { Int32, Long, ObjectId } from 'bson';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { expectedCommandView } from './driver-quirks';
import { exceptionRow, loadKnownExceptions, replaceAreaRows } from './exceptions';
import { assertMatches, assertMatchesIterable, matches, type MatchContext } from './matcher';
import { unmetRequirements } from './requirements';

const lsid = { id: 'abc' };
const context: MatchContext = { entity: (id) => (id === 'e' ? 42 : undefined), sessionLsid: () => lsid };
const ok = (expected: unknown, actual: unknown, root = true) => matches(expected, actual, context, root);

describe('unified format matching', () => {
  it('allows extra fields in root documents only', () => {
    expect(ok({ a: 1 }, { a: 1, b: 2 })).toBe(true);
    expect(ok({ n: { a: 1 } }, { n: { a: 1, b: 2 } })).toBe(false);
    expect(ok([{ a: 1 }], [{ a: 1, b: 2 }])).toBe(false);
  });

  it('matches numbers by value whatever their BSON type', () => {
    expect(ok({ n: 1 }, { n: Long.fromNumber(1) })).toBe(true);
    expect(ok({ n: new Int32(3) }, { n: 3 })).toBe(true);
    expect(ok({ n: 1 }, { n: 2 })).toBe(false);
  });

  it('supports $$exists, $$unsetOrMatches, $$type, $$matchesEntity, $$sessionLsid', () => {
    expect(ok({ a: { $$exists: false } }, {})).toBe(true);
    expect(ok({ a: { $$exists: true } }, {})).toBe(false);
    expect(ok({ a: { $$unsetOrMatches: { $$exists: true } } }, {})).toBe(true);
    expect(ok({ a: { $$unsetOrMatches: { $$exists: true } } }, { a: 1 })).toBe(true);
    expect(ok({ a: { $$unsetOrMatches: 2 } }, { a: 1 })).toBe(false);
    expect(ok({ id: { $$type: ['int', 'long'] } }, { id: Long.fromNumber(5) })).toBe(true);
    expect(ok({ id: { $$type: 'objectId' } }, { id: 'x' })).toBe(false);
    expect(ok({ o: { $$type: 'object' } }, { o: { x: 1 } })).toBe(true);
    expect(ok({ v: { $$matchesEntity: 'e' } }, { v: 42 })).toBe(true);
    expect(ok({ lsid: { $$sessionLsid: 's' } }, { lsid: { id: 'abc' } })).toBe(true);
  });

  it('keeps root-level leniency through $$unsetOrMatches, in iterable results, and reads Maps', () => {
    expect(ok({ $$unsetOrMatches: { a: 1 } }, { a: 1, b: 2 })).toBe(true);
    expect(ok({ n: { $$unsetOrMatches: { a: 1 } } }, { n: { a: 1, b: 2 } })).toBe(false);
    expect(() => assertMatchesIterable([{ a: 1 }], [{ a: 1, b: 2 }], context)).not.toThrow();
    expect(() => assertMatchesIterable([{ a: 1 }], [{ a: 1 }, { a: 2 }], context)).toThrow('1 elements');
    expect(ok({ sort: { _id: 1 } }, { sort: new Map([['_id', 1]]) })).toBe(true);
  });

  it('compares BSON values by content and names the mismatching path', () => {
    const id = new ObjectId();
    expect(ok({ _id: id }, { _id: new ObjectId(id.toHexString()) })).toBe(true);
    expect(() =>
      assertMatches({ ns: { db: 'a', coll: 'b' } }, { ns: { db: 'a', coll: 'c' } }, context),
    ).toThrow('$.ns.coll: expected "b", got "c"');
  });
});

describe('runOnRequirements', () => {
  const server = { version: '7.0.12', topology: 'replicaset', serverless: false, auth: false };

  it('is met when any alternative is met', () => {
    expect(
      unmetRequirements([{ minServerVersion: '3.6', topologies: ['replicaset'] }], server),
    ).toBeUndefined();
    expect(
      unmetRequirements([{ maxServerVersion: '4.2.99' }, { minServerVersion: '6.0' }], server),
    ).toBeUndefined();
    expect(unmetRequirements([{ minServerVersion: '8.1.0' }], server)).toBe('needs server >= 8.1.0');
    expect(unmetRequirements([{ topologies: ['single'] }], server)).toBe('needs topology single');
    expect(unmetRequirements([{ serverless: 'forbid' }], server)).toBeUndefined();
  });
});

describe('known exceptions (EXCEPTIONS.md)', () => {
  it('reads one table per area section and rejects malformed or section-less rows', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'exceptions-'));
    try {
      const file = path.join(dir, 'EXCEPTIONS.md');
      const table = '| File | Test | Reason |\n| --- | --- | --- |\n';
      const row = exceptionRow('a.json', 'some | test', 'why');
      writeFileSync(
        file,
        `# x\n\n## crud\n\n${table}${row}\n\n## transactions\n\n${table}| \`a.json\` | t | r |\n`,
      );
      const exceptions = loadKnownExceptions(file);
      expect([...exceptions.get('crud')!]).toEqual([['a.json › some | test', 'why']]);
      expect([...exceptions.get('transactions')!]).toEqual([['a.json › t', 'r']]);
      writeFileSync(file, `## crud\n\n${table}| a.txt | t | r |\n`);
      expect(() => loadKnownExceptions(file)).toThrow('malformed exception row');
      writeFileSync(file, `# x\n\n${table}| a.json | t | r |\n`);
      expect(() => loadKnownExceptions(file)).toThrow('outside');
      expect(loadKnownExceptions(path.join(dir, 'missing.md')).size).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('replaceAreaRows', () => {
  it("replaces only the rows of the area's table, or appends a section", () => {
    const text = '# x\n\n## crud\n\n| File | Test | Reason |\n| -- | -- | -- |\n| a.json | t | r |\n\nend\n';
    const replaced = replaceAreaRows(text, 'crud', ['| b.json | u | s |']);
    expect(replaced).toBe(text.replace('| a.json | t | r |', '| b.json | u | s |'));
    expect(replaceAreaRows(text, 'crud', [])).toBe(text.replace('| a.json | t | r |\n', ''));
    expect(replaceAreaRows(text, 'transactions', ['| c.json | v | w |'])).toContain(
      '## transactions\n\n| File | Test | Reason |\n| ---- | ---- | ------ |\n| c.json | v | w |\n',
    );
  });
});

describe('driver quirks', () => {
  it('drops the wtimeout the driver adds to commitTransaction unless the test expects one', () => {
    const command = { commitTransaction: 1, writeConcern: { w: 'majority', wtimeout: 10000 } };
    const plain = { writeConcern: { w: 'majority' } };
    expect(expectedCommandView('commitTransaction', command, plain).writeConcern).toEqual(plain.writeConcern);
    expect(expectedCommandView('commitTransaction', command, command)).toBe(command);
    expect(expectedCommandView('insert', command, plain)).toBe(command);
  });
});
