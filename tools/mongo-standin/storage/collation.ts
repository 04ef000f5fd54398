/**
 * Collations: parsing a collation document as mongod 7.0 does (its errors included) and comparing
 * strings under it, with the ICU collator Node ships (Intl.Collator).
 *
 * What the stand-in evaluates: any locale ICU knows without keywords, strength 1-3, caseLevel,
 * caseFirst, numericOrdering, alternate "shifted" with maxVariable "punct", normalization. What it
 * cannot reproduce faithfully (strength 4-5, `backwards`, maxVariable "space", `@keyword` locales)
 * is refused with a stand-in error rather than evaluated differently from mongod.
 */
import type { Document } from 'bson';
import type { CollationSpec } from 'mingo/types';
import { compare as mingoCompare, isEqual, isObject } from 'mingo/util';
import { ErrorCodes, serverError } from '../errors/server-error';
import { bsonTypeName, formatDocument, keyOf } from './values';

/** A parsed non-simple collation: the spec for mingo's `$sort` and the collator for comparisons. */
export interface Collation {
  readonly spec: Document;
  readonly mingo: CollationSpec;
  readonly collator: Intl.Collator;
}

/** The ICU version mongod 7.0 reports in a collation's `version`. */
const ICU_VERSION = '57.1';
const SENSITIVITY = { 1: 'base', 2: 'accent', 3: 'variant' } as const;
const ENUMS: Record<string, readonly string[]> = {
  caseFirst: ['upper', 'lower', 'off'],
  alternate: ['non-ignorable', 'shifted'],
  maxVariable: ['punct', 'space'],
};
const BOOLEANS = ['caseLevel', 'numericOrdering', 'normalization', 'backwards'];
const FIELDS = new Set(['locale', 'strength', 'version', ...BOOLEANS, ...Object.keys(ENUMS)]);

const parsed = new Map<string, Collation | undefined>();
/** The collator of each parsed collation's mingo spec (what mingo passes to operators as `collation`). */
const collators = new WeakMap<object, Intl.Collator>();

/** The collator a mingo operator runs under, from its options' `collation`; undefined when simple. */
export const collatorFor = (mingoSpec: object | undefined): Intl.Collator | undefined =>
  mingoSpec ? collators.get(mingoSpec) : undefined;

/**
 * The collation of a command, statement or collection; undefined for none and for the simple
 * (binary) collation. Throws mongod's errors for an invalid document, and a stand-in error for a
 * valid one it cannot evaluate.
 */
export function parseCollation(spec: unknown): Collation | undefined {
  if (spec === undefined || spec === null) return undefined;
  if (typeof spec !== 'object' || Array.isArray(spec)) {
    throw serverError(
      ErrorCodes.TypeMismatch,
      `BSON field 'collation' is the wrong type '${bsonTypeName(spec)}', expected type 'object'`,
    );
  }
  const key = keyOf(spec);
  if (!parsed.has(key)) parsed.set(key, parse(spec as Document));
  return parsed.get(key);
}

function parse(spec: Document): Collation | undefined {
  for (const field of Object.keys(spec)) {
    if (!FIELDS.has(field)) {
      throw serverError(ErrorCodes.Location40415, `BSON field 'collation.${field}' is an unknown field.`);
    }
  }
  checkTypes(spec);
  const locale = spec.locale as string;
  if (locale === 'simple') {
    if (Object.keys(spec).length > 1) {
      throw serverError(
        ErrorCodes.FailedToParse,
        `If locale=simple, no other fields should be present in: ${formatDocument(spec)}`,
      );
    }
    return undefined;
  }
  const strength = (spec.strength as number | undefined) ?? 3;
  if (spec.version !== undefined && spec.version !== ICU_VERSION) {
    throw serverError(
      ErrorCodes.IncompatibleCollationVersion,
      `Requested collation version ${spec.version} but the only available collator version was ${ICU_VERSION}. Requested collation spec: ${formatDocument(spec)}`,
    );
  }
  if (spec.backwards === true && strength === 1) {
    throw invalidCombination(`'backwards' is invalid with 'strength' of 1 in: ${formatDocument(spec)}`);
  }
  if ((spec.caseFirst ?? 'off') !== 'off' && spec.caseLevel !== true && strength < 3) {
    throw invalidCombination(
      `'caseFirst' is invalid unless 'caseLevel' is on or 'strength' is greater than 2 in: ${formatDocument(spec)}`,
    );
  }
  const tag = bcp47(locale, spec);
  refuseUnsupported(spec, strength);
  const mingo: CollationSpec = {
    locale: tag,
    strength: strength as 1 | 2 | 3,
    ...(spec.caseLevel !== undefined ? { caseLevel: spec.caseLevel as boolean } : {}),
    ...(spec.caseFirst !== undefined ? { caseFirst: spec.caseFirst as 'upper' | 'lower' | 'off' } : {}),
    ...(spec.numericOrdering !== undefined ? { numericOrdering: spec.numericOrdering as boolean } : {}),
    ...(spec.alternate !== undefined ? { alternate: spec.alternate as string } : {}),
  };
  let sensitivity: string = SENSITIVITY[strength as 1 | 2 | 3];
  // caseLevel adds a case distinction below tertiary strength (what ICU's case level does).
  if (spec.caseLevel === true && strength === 1) sensitivity = 'case';
  if (spec.caseLevel === true && strength === 2) sensitivity = 'variant';
  const collator = new Intl.Collator(tag, {
    sensitivity: sensitivity as Intl.CollatorOptions['sensitivity'],
    caseFirst: spec.caseFirst === 'off' || spec.caseFirst === undefined ? 'false' : spec.caseFirst,
    numeric: spec.numericOrdering === true,
    ignorePunctuation: spec.alternate === 'shifted',
  });
  collators.set(mingo, collator);
  return { spec, mingo, collator };
}

/** The IDL checks of mongod's Collation struct: locale required, field types, enum values, strength 0-5. */
function checkTypes(spec: Document): void {
  const wrongType = (field: string, expected: string) =>
    serverError(
      ErrorCodes.TypeMismatch,
      `BSON field 'collation.${field}' is the wrong type '${bsonTypeName(spec[field])}', expected type '${expected}'`,
    );
  if (spec.locale === undefined) {
    throw serverError(
      ErrorCodes.Location40414,
      "BSON field 'collation.locale' is missing but a required field",
    );
  }
  if (typeof spec.locale !== 'string') throw wrongType('locale', 'string');
  for (const field of BOOLEANS) {
    if (spec[field] !== undefined && typeof spec[field] !== 'boolean') throw wrongType(field, 'bool');
  }
  for (const [field, values] of Object.entries(ENUMS)) {
    if (spec[field] === undefined) continue;
    if (typeof spec[field] !== 'string') throw wrongType(field, 'string');
    if (!values.includes(spec[field] as string)) {
      throw serverError(
        ErrorCodes.BadValue,
        `Enumeration value '${spec[field]}' for field 'collation.${field}' is not a valid value.`,
      );
    }
  }
  if (spec.version !== undefined && typeof spec.version !== 'string') throw wrongType('version', 'string');
  const { strength } = spec;
  if (strength === undefined) return;
  if (typeof strength !== 'number' || !Number.isInteger(strength)) throw wrongType('strength', 'int');
  if (strength < 0 || strength > 5) {
    const bound = strength < 0 ? '>= 0' : '<= 5';
    throw serverError(
      ErrorCodes.Location51024,
      `BSON field 'strength' value must be ${bound}, actual value '${strength}'`,
    );
  }
  if (strength === 0) {
    throw serverError(ErrorCodes.FailedToParse, `Field 'strength' must be an integer 1 through 5. Got: 0`);
  }
}

const invalidCombination = (message: string) => serverError(ErrorCodes.BadValue, message);

/**
 * The BCP 47 tag of an ICU locale ID (`en_US` -> `en-US`). mongod refuses a locale ICU would
 * canonicalise or fall back from ("Did you mean ..."), which the resolved locale of Intl shows.
 */
function bcp47(locale: string, spec: Document): string {
  if (locale === '') {
    throw serverError(
      ErrorCodes.BadValue,
      `Field 'locale' cannot be the empty string in: ${formatDocument(spec)}`,
    );
  }
  if (locale.includes('@')) {
    throw standInRefusal(`locale keywords in a collation ('${locale}')`);
  }
  const tag = locale.replace(/_/g, '-');
  const invalid = (suggestion?: string) =>
    serverError(
      ErrorCodes.BadValue,
      `Field 'locale' is invalid in: ${formatDocument(spec)}` +
        (suggestion ? `. Did you mean '${suggestion}'?` : ''),
    );
  let supported: string[];
  try {
    supported = Intl.Collator.supportedLocalesOf([tag]);
  } catch {
    throw invalid();
  }
  if (!supported.length) throw invalid();
  const resolved = new Intl.Collator(tag).resolvedOptions().locale;
  if (resolved !== tag) throw invalid(resolved.replace(/-/g, '_'));
  return tag;
}

function refuseUnsupported(spec: Document, strength: number): void {
  if (strength > 3) throw standInRefusal(`collation strength ${strength} (it evaluates 1 to 3)`);
  if (spec.backwards === true) throw standInRefusal("collation option 'backwards: true'");
  if (spec.alternate === 'shifted' && spec.maxVariable === 'space') {
    throw standInRefusal("collation option maxVariable 'space'");
  }
}

/** What the stand-in cannot evaluate as mongod does under a collation: refused, never approximated. */
export const standInRefusal = (what: string) =>
  serverError(ErrorCodes.NotImplemented, `The MongoDB stand-in does not support ${what}`);

/** Two values equal under the collation: strings by the collator, arrays and documents element-wise. */
export function collatedEqual(a: unknown, b: unknown, collator: Intl.Collator): boolean {
  if (typeof a === 'string' && typeof b === 'string') return collator.compare(a, b) === 0;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((value, i) => collatedEqual(value, b[i], collator));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a as Document);
    const other = Object.keys(b as Document);
    return (
      keys.length === other.length &&
      keys.every(
        (key, i) => key === other[i] && collatedEqual((a as Document)[key], (b as Document)[key], collator),
      )
    );
  }
  return isEqual(a, b);
}

/** Order under the collation for strings; other values in mongod's order (mingo's compare). */
export function collatedCompare(a: unknown, b: unknown, collator: Intl.Collator): number {
  if (typeof a === 'string' && typeof b === 'string') return collator.compare(a, b);
  return mingoCompare(a, b);
}

/** Distinct values under a collation: values equal by it count once (the first seen); all when simple. */
export function distinctUnder(spec: unknown, values: unknown[]): unknown[] {
  const collation = parseCollation(spec);
  if (!collation) return values;
  const kept: unknown[] = [];
  for (const value of values) {
    if (!kept.some((seen) => collatedEqual(seen, value, collation.collator))) kept.push(value);
  }
  return kept;
}

/**
 * The filter to narrow candidate documents by `_id` with (collection.ts `candidates`): none under
 * a collation, where a string `_id` also matches the strings equal to it by the collation.
 */
export const narrowingFilter = (filter: Document | undefined, spec: unknown): Document | undefined =>
  parseCollation(spec) ? undefined : filter;

/**
 * A collection's or view's default collation would apply to every operation without one (and to
 * its indexes); the stand-in applies collations per operation only, so it refuses a non-simple one.
 */
export function refuseDefaultCollation(spec: unknown): void {
  if (parseCollation(spec)) throw standInRefusal('a default collation on a collection or view');
}
