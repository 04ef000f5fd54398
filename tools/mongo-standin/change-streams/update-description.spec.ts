import { describeUpdate } from './update-description';

describe('describeUpdate (mongod v2 diff reporting)', () => {
  it('reports a top-level $set of a whole sub-document as that field', () => {
    const before = { _id: 1, a: { b: 1, c: 1 } };
    const after = { _id: 1, a: { b: 1, c: 2 } };
    expect(describeUpdate(before, after, { $set: { a: { b: 1, c: 2 } } })).toEqual({
      updatedFields: { a: { b: 1, c: 2 } },
      removedFields: [],
      truncatedArrays: [],
      disambiguatedPaths: {},
    });
  });

  it('reports dotted $set paths as given and leaves unchanged values out', () => {
    const before = { _id: 1, a: { b: 1, c: 1 }, x: 5 };
    const after = { _id: 1, a: { b: 2, c: 1 }, x: 5 };
    expect(describeUpdate(before, after, { $set: { 'a.b': 2, x: 5 } }).updatedFields).toEqual({ 'a.b': 2 });
  });

  it('reports a field created below a missing parent at the first missing component', () => {
    const after = { _id: 1, a: { b: { c: 1 } } };
    expect(describeUpdate({ _id: 1 }, after, { $set: { 'a.b.c': 1 } }).updatedFields).toEqual({
      a: { b: { c: 1 } },
    });
  });

  it('reports array appends as arr.N', () => {
    const before = { _id: 1, arr: [1, 2] };
    const after = { _id: 1, arr: [1, 2, 3, 4] };
    expect(describeUpdate(before, after, { $push: { arr: { $each: [3, 4] } } }).updatedFields).toEqual({
      'arr.2': 3,
      'arr.3': 4,
    });
    expect(
      describeUpdate(before, { _id: 1, arr: [1, 2, 3] }, { $addToSet: { arr: 3 } }).updatedFields,
    ).toEqual({ 'arr.2': 3 });
  });

  it('reports $push with reordering, $pull and $pop as the whole array', () => {
    const before = { _id: 1, arr: [1, 2, 3] };
    expect(
      describeUpdate(before, { _id: 1, arr: [0, 1, 2, 3] }, { $push: { arr: { $each: [0], $position: 0 } } })
        .updatedFields,
    ).toEqual({
      arr: [0, 1, 2, 3],
    });
    expect(describeUpdate(before, { _id: 1, arr: [1, 3] }, { $pull: { arr: 2 } }).updatedFields).toEqual({
      arr: [1, 3],
    });
    expect(describeUpdate(before, { _id: 1, arr: [1, 2] }, { $pop: { arr: 1 } }).updatedFields).toEqual({
      arr: [1, 2],
    });
  });

  it('reports $unset as removed fields, $rename as a removal and a set, $inc as the new value', () => {
    const before = { _id: 1, a: 1, b: 2, n: 1 };
    const after = { _id: 1, c: 2, n: 2 };
    expect(describeUpdate(before, after, { $unset: { a: '' }, $rename: { b: 'c' }, $inc: { n: 1 } })).toEqual(
      {
        updatedFields: { c: 2, n: 2 },
        removedFields: ['a', 'b'],
        truncatedArrays: [],
        disambiguatedPaths: {},
      },
    );
  });

  it('resolves positional and filtered array operators to concrete indexes', () => {
    const before = { _id: 1, items: [{ q: 1 }, { q: 5 }, { q: 1 }] };
    const after = { _id: 1, items: [{ q: 2 }, { q: 5 }, { q: 2 }] };
    expect(describeUpdate(before, after, { $set: { 'items.$[low].q': 2 } }).updatedFields).toEqual({
      'items.0.q': 2,
      'items.2.q': 2,
    });
    expect(describeUpdate(before, after, { $inc: { 'items.$[].q': 1 } }).updatedFields).toEqual({
      'items.0.q': 2,
      'items.2.q': 2,
    });
  });

  it('reports a pipeline update that shrinks an array as truncatedArrays (spec: Test array truncation)', () => {
    const before = { _id: 1, a: 1, array: ['foo', { a: 'bar' }, 1, 2, 3] };
    const after = { _id: 1, a: 1, array: ['foo', { a: 'bar' }] };
    expect(describeUpdate(before, after, [{ $set: { array: ['foo', { a: 'bar' }] } }])).toEqual({
      updatedFields: {},
      removedFields: [],
      truncatedArrays: [{ field: 'array', newSize: 2 }],
      disambiguatedPaths: {},
    });
  });

  it('diffs pipeline updates into sub-paths, or the whole field when that is smaller', () => {
    const bigBefore = { _id: 1, big: { keep: 'x'.repeat(100), change: 1 }, gone: true };
    const bigAfter = { _id: 1, big: { keep: 'x'.repeat(100), change: 2 } };
    expect(
      describeUpdate(bigBefore, bigAfter, [{ $set: { 'big.change': 2 } }, { $unset: 'gone' }]),
    ).toMatchObject({
      updatedFields: { 'big.change': 2 },
      removedFields: ['gone'],
    });
    expect(
      describeUpdate({ _id: 1, s: { b: 1 } }, { _id: 1, s: { b: 2 } }, [{ $set: { 's.b': 2 } }])
        .updatedFields,
    ).toEqual({ s: { b: 2 } });
  });

  it('disambiguates numeric field names and reports array indexes as integers', () => {
    expect(
      describeUpdate({ _id: 1, a: { 1: 1 } }, { _id: 1, a: { 1: 2 } }, { $set: { 'a.1': 2 } }),
    ).toMatchObject({
      updatedFields: { 'a.1': 2 },
      disambiguatedPaths: { 'a.1': ['a', '1'] },
    });
    expect(
      describeUpdate({ _id: 1, a: [{ 1: 1 }] }, { _id: 1, a: [{ 1: 2 }] }, { $set: { 'a.0.1': 2 } }),
    ).toMatchObject({
      updatedFields: { 'a.0.1': 2 },
      disambiguatedPaths: { 'a.0.1': ['a', 0, '1'] },
    });
    expect(
      describeUpdate({ _id: 1, arr: [1] }, { _id: 1, arr: [2] }, { $set: { 'arr.0': 2 } }).disambiguatedPaths,
    ).toEqual({});
  });

  it('disambiguates field names containing dots (pipeline updates)', () => {
    const description = describeUpdate(
      { _id: 1, o: { 'x.y': 1, pad: 'p'.repeat(50) } },
      { _id: 1, o: { 'x.y': 2, pad: 'p'.repeat(50) } },
      [],
    );
    expect(description.updatedFields).toEqual({ 'o.x.y': 2 });
    expect(description.disambiguatedPaths).toEqual({ 'o.x.y': ['o', 'x.y'] });
  });
});
