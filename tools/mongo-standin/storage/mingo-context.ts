/**
 * The mingo operators the stand-in evaluates queries and pipelines with: mingo's own, except the
 * comparisons a collation changes. mingo applies a collation to `$sort` only; under a non-simple
 * collation mongod also compares strings by it in query predicates (`$eq`, `$ne`, `$in`, `$nin`,
 * ranges, `$all`), in aggregation comparisons (`$eq`, `$cmp`, `$in`, ...) and `$group` keys.
 * Those are replaced here; the operators that compare strings some other way under a collation
 * (sets, `$lookup` keys, `$min`/`$max`, ...) are refused under one ({@link refuseUncollated}).
 */
import type { Document } from 'bson';
import { Context, evalExpr } from 'mingo/core';
import { Lazy, type Iterator } from 'mingo/lazy';
import * as accumulatorOperators from 'mingo/operators/accumulator';
import * as expressionOperators from 'mingo/operators/expression';
import * as pipelineOperators from 'mingo/operators/pipeline';
import * as projectionOperators from 'mingo/operators/projection';
import * as queryOperators from 'mingo/operators/query';
import * as windowOperators from 'mingo/operators/window';
import type { Options } from 'mingo/types';
import { ensureArray, flatten, isNil, isRegExp, resolve, typeOf } from 'mingo/util';
import { ErrorCodes, serverError } from '../errors/server-error';
import { collatedCompare, collatedEqual, collatorFor, standInRefusal } from './collation';
import { bsonTypeName } from './values';

type QueryOperator = (selector: string, value: unknown, options: Options) => (doc: object) => boolean;
type ExpressionOperator = (obj: object, expr: unknown, options: Options) => unknown;
type Predicate = (lhs: unknown, rhs: unknown, collator: Intl.Collator, depth: number) => boolean;

const collatorOf = (options: Options) => collatorFor(options.collation);

/** As mingo's `$eq`: the value, an element of an array value, or null for missing. */
const equals: Predicate = (a, b, collator, depth) => {
  if (collatedEqual(a, b, collator) || (isNil(a) && isNil(b))) return true;
  if (!Array.isArray(a)) return false;
  return (
    a.some((v) => collatedEqual(v, b, collator)) ||
    flatten(a, depth).some((v) => collatedEqual(v, b, collator))
  );
};

const inList: Predicate = (a, b, collator) => {
  const list = b as unknown[];
  if (isNil(a)) return list.some((v) => v === null);
  const values = ensureArray(a);
  const equal = (x: unknown) => !isRegExp(x) && values.some((v) => collatedEqual(v, x, collator));
  if (list.some(equal) || (Array.isArray(a) && list.some((x) => collatedEqual(a, x, collator)))) return true;
  const patterns = list.filter(isRegExp) as RegExp[];
  return values.some((v) => typeof v === 'string' && patterns.some((re) => re.test(v)));
};

const range =
  (test: (order: number) => boolean): Predicate =>
  (a, b, collator) =>
    ensureArray(a).some((v) => typeOf(v) === typeOf(b) && test(collatedCompare(v, b, collator)));

/** `$all` of plain values (with `$elemMatch` it is mingo's, whose inner query is collated already). */
const all: Predicate = (a, b, collator) =>
  Array.isArray(a) &&
  Array.isArray(b) &&
  a.length > 0 &&
  b.length > 0 &&
  b.every((x) =>
    isRegExp(x)
      ? a.some((v) => typeof v === 'string' && x.test(v))
      : a.some((v) => collatedEqual(x, v, collator)),
  );

/** A query operator evaluated by `predicate` under a collation, by mingo's otherwise. */
function collatedQuery(
  name: keyof typeof queryOperators,
  predicate: Predicate,
  negate = false,
): QueryOperator {
  const original = queryOperators[name] as unknown as QueryOperator;
  return (selector, value, options) => {
    const collator = collatorOf(options);
    const plainAll =
      name === '$all' &&
      Array.isArray(value) &&
      !value.some((x) => x && typeof x === 'object' && '$elemMatch' in x);
    if (!collator || (name === '$all' && !plainAll)) return original(selector, value, options);
    const depth = selector.split('.').length - 1;
    return (doc) =>
      negate !== predicate(resolve(doc as never, selector, { unwrapArray: true }), value, collator, depth);
  };
}

/** An aggregation comparison of two evaluated arguments, under a collation when there is one. */
function collatedExpression(
  name: keyof typeof expressionOperators,
  evaluate: (lhs: unknown, rhs: unknown, collator: Intl.Collator) => unknown,
): ExpressionOperator {
  const original = expressionOperators[name] as unknown as ExpressionOperator;
  return (obj, expr, options) => {
    const collator = collatorOf(options);
    if (!collator) return original(obj, expr, options);
    const args = evalExpr(obj, expr, options) as unknown[];
    if (!Array.isArray(args) || args.length !== 2) return original(obj, expr, options);
    return evaluate(args[0], args[1], collator);
  };
}

const order = (test: (order: number) => boolean) => (a: unknown, b: unknown, collator: Intl.Collator) =>
  test(collatedCompare(a, b, collator));

/**
 * `$group` under a collation: keys equal under it form one group (with the first key seen), as
 * in mongod; mingo groups by binary equality, so each group runs through mingo's `$group` alone.
 */
function collatedGroup(coll: Iterator, expr: Document, options: Options): Iterator {
  const collator = collatorOf(options);
  if (!collator) return pipelineOperators.$group(coll, expr as never, options);
  return coll.transform((items: object[]) => {
    const keys: unknown[] = [];
    const members: object[][] = [];
    for (const item of items) {
      const key = evalExpr(item, expr._id, options);
      let group = keys.findIndex((seen) => collatedEqual(seen, key, collator));
      if (group < 0) group = keys.push(key) - 1;
      (members[group] ??= []).push(item);
    }
    const groups = keys.flatMap((key, group) =>
      pipelineOperators
        .$group(Lazy(members[group]), { ...expr, _id: { $literal: key } } as never, options)
        .collect(),
    );
    return Lazy(groups) as never;
  });
}

/** The ordering comparisons, as the sign of a collated comparison they accept. */
const ORDERINGS: ReadonlyArray<['$gt' | '$gte' | '$lt' | '$lte', (order: number) => boolean]> = [
  ['$gt', (o) => o > 0],
  ['$gte', (o) => o >= 0],
  ['$lt', (o) => o < 0],
  ['$lte', (o) => o <= 0],
];

/** mingo's operators with the collation-aware comparisons. */
export const STANDIN_CONTEXT = Context.init({
  accumulator: accumulatorOperators,
  expression: {
    ...expressionOperators,
    $eq: collatedExpression('$eq', (a, b, c) => collatedEqual(a, b, c)),
    $ne: collatedExpression('$ne', (a, b, c) => !collatedEqual(a, b, c)),
    ...Object.fromEntries(ORDERINGS.map(([name, test]) => [name, collatedExpression(name, order(test))])),
    $cmp: collatedExpression('$cmp', (a, b, c) => Math.sign(collatedCompare(a, b, c))),
    $in: collatedExpression('$in', (a, b, c) => {
      if (!Array.isArray(b)) {
        throw serverError(
          ErrorCodes.Location40081,
          `$in requires an array as a second argument, found: ${bsonTypeName(b)}`,
        );
      }
      return b.some((x) => collatedEqual(a, x, c));
    }),
  } as never,
  // $out / $merge run as stand-in writes at the end of a pipeline only (commands/aggregate-write.ts).
  pipeline: { ...pipelineOperators, $group: collatedGroup, $out: undefined, $merge: undefined } as never,
  projection: projectionOperators,
  query: {
    ...queryOperators,
    $eq: collatedQuery('$eq', equals),
    $ne: collatedQuery('$ne', equals, true),
    $in: collatedQuery('$in', inList),
    $nin: collatedQuery('$nin', inList, true),
    ...Object.fromEntries(ORDERINGS.map(([name, test]) => [name, collatedQuery(name, range(test))])),
    $all: collatedQuery('$all', all),
  } as never,
  window: windowOperators,
});

/** Operators that compare strings without the collation in mingo (mongod would apply it). */
const UNCOLLATED = new Set([
  '$addToSet',
  '$setUnion',
  '$setIntersection',
  '$setDifference',
  '$setEquals',
  '$setIsSubset',
  '$indexOfArray',
  '$sortArray',
  '$lookup',
  '$graphLookup',
  '$bucket',
  '$bucketAuto',
  '$sortByCount',
  '$min',
  '$max',
  '$minN',
  '$maxN',
  '$top',
  '$topN',
  '$bottom',
  '$bottomN',
  '$setWindowFields',
  '$densify',
  '$fill',
]);

/** Refuses a filter or pipeline that uses an operator the stand-in does not collate (see above). */
export function refuseUncollated(spec: unknown): void {
  if (Array.isArray(spec)) {
    for (const item of spec) refuseUncollated(item);
    return;
  }
  if (!spec || typeof spec !== 'object' || '_bsontype' in spec || spec instanceof Date) return;
  for (const [key, value] of Object.entries(spec as Document)) {
    if (UNCOLLATED.has(key)) throw standInRefusal(`${key} under a non-simple collation`);
    if (key !== '$literal') refuseUncollated(value);
  }
}
