/**
 * `updateDescription` of update events, reported the way mongod's v2 oplog diffs are:
 *  - operator updates log the paths the operators touched: a `$set` of a whole sub-document
 *    reports that field, `$push` / `$addToSet` appends report `arr.<index>`, `$pull` / `$pop`
 *    report the whole array, `$unset` reports a removed field, a field created below a missing
 *    parent is reported at the first missing component; paths whose value did not change are not
 *    reported;
 *  - pipeline (and unknown) updates report the document diff: changed fields, sub-document and
 *    array diffs (`truncatedArrays` for arrays that shrank), falling back to the whole field when
 *    the sub-diff would be larger than the new value, as mongod's diff does.
 */
import { calculateObjectSize, serialize, type Document } from 'bson';

/** A path component: a field name, or an array index. */
export type PathSegment = string | number;

/** The event's `updateDescription` (disambiguatedPaths is only exposed with showExpandedEvents). */
export interface UpdateDescription {
  updatedFields: Document;
  removedFields: string[];
  truncatedArrays: { field: string; newSize: number }[];
  disambiguatedPaths: Document;
}

/** Describes the update that turned `before` into `after`; `update` is the update as the client sent it. */
export function describeUpdate(
  before: Document,
  after: Document,
  update?: Document | Document[],
): UpdateDescription {
  const changes = new Changes();
  if (update && !Array.isArray(update) && isOperatorUpdate(update))
    logOperatorUpdate(changes, before, after, update);
  else diffDocuments(changes, before, after, []);
  return changes.render();
}

/** Collected changes, by path. */
class Changes {
  readonly updated: { path: PathSegment[]; value: unknown }[] = [];
  readonly removed: PathSegment[][] = [];
  readonly truncated: { path: PathSegment[]; newSize: number }[] = [];

  get empty(): boolean {
    return !this.updated.length && !this.removed.length && !this.truncated.length;
  }

  merge(other: Changes): void {
    this.updated.push(...other.updated);
    this.removed.push(...other.removed);
    this.truncated.push(...other.truncated);
  }

  /**
   * Approximate BSON size of these changes as a v2 diff of the value at depth `depth` (sections
   * `u` / `d` / `l`, entries named by their last path component, nested sub-diffs).
   */
  approximateDiffSize(depth: number): number {
    let size =
      5 + (this.updated.length ? 8 : 0) + (this.removed.length ? 8 : 0) + (this.truncated.length ? 11 : 0);
    const nesting = (path: PathSegment[]) => 8 * Math.max(0, path.length - depth - 1);
    for (const { path, value } of this.updated)
      size += 2 + String(path.at(-1)).length + sizeOfValue(value) + nesting(path);
    for (const path of this.removed) size += 3 + String(path.at(-1)).length + nesting(path);
    return size;
  }

  render(): UpdateDescription {
    const keep = this.updated.filter(
      ({ path }) => !this.updated.some((other) => isStrictPrefix(other.path, path)),
    );
    const updatedFields: Document = {};
    const disambiguatedPaths: Document = {};
    const name = (path: PathSegment[]) => {
      const joined = path.join('.');
      if (isAmbiguous(path)) disambiguatedPaths[joined] = [...path];
      return joined;
    };
    for (const { path, value } of keep) updatedFields[name(path)] = value;
    return {
      updatedFields,
      removedFields: unique(this.removed.map(name)),
      truncatedArrays: this.truncated.map(({ path, newSize }) => ({ field: name(path), newSize })),
      disambiguatedPaths,
    };
  }
}

function isOperatorUpdate(update: Document): boolean {
  const keys = Object.keys(update);
  return keys.length > 0 && keys.every((key) => key.startsWith('$'));
}

const SET_LIKE = new Set(['$set', '$inc', '$mul', '$min', '$max', '$currentDate', '$bit', '$setOnInsert']);
const APPENDING = new Set(['$push', '$addToSet']);
const ARRAY_REWRITING = new Set(['$pull', '$pullAll', '$pop']);

function logOperatorUpdate(changes: Changes, before: Document, after: Document, update: Document): void {
  for (const [operator, fields] of Object.entries(update)) {
    if (!fields || typeof fields !== 'object') continue;
    for (const [dotted, argument] of Object.entries(fields as Document)) {
      const pattern = dotted.split('.');
      if (SET_LIKE.has(operator) || ARRAY_REWRITING.has(operator)) logSet(changes, before, after, pattern);
      else if (APPENDING.has(operator)) logAppend(changes, before, after, pattern);
      else if (operator === '$unset') logUnset(changes, before, pattern);
      else if (operator === '$rename' && typeof argument === 'string') {
        logUnset(changes, before, pattern);
        logSet(changes, before, after, argument.split('.'));
      } else {
        // NOTE: an operator this module does not know: report what the document diff shows.
        const diff = new Changes();
        diffDocuments(diff, before, after, []);
        changes.merge(diff);
        return;
      }
    }
  }
}

/** A set-like modification: each concrete path reports its new value when it changed. */
function logSet(changes: Changes, before: Document, after: Document, pattern: string[]): void {
  for (const path of resolve(after, pattern)) {
    const missingAt = firstMissing(before, path);
    if (missingAt >= 0) {
      const created = path.slice(0, missingAt + 1);
      changes.updated.push({ path: created, value: valueAt(after, created) });
    } else if (!bsonEqual(valueAt(before, path), valueAt(after, path))) {
      changes.updated.push({ path, value: valueAt(after, path) });
    }
  }
}

/** `$push` / `$addToSet`: appended elements are reported by index, anything else as the whole array. */
function logAppend(changes: Changes, before: Document, after: Document, pattern: string[]): void {
  for (const path of resolve(after, pattern)) {
    const old = firstMissing(before, path) >= 0 ? undefined : valueAt(before, path);
    const now = valueAt(after, path);
    if (
      Array.isArray(old) &&
      Array.isArray(now) &&
      now.length > old.length &&
      old.every((item, i) => bsonEqual(item, now[i]))
    ) {
      for (let index = old.length; index < now.length; index++)
        changes.updated.push({ path: [...path, index], value: now[index] });
    } else {
      logSet(changes, before, after, path.map(String));
    }
  }
}

/** `$unset`: a removed field, or (inside an array) an element set to null. */
function logUnset(changes: Changes, before: Document, pattern: string[]): void {
  for (const path of resolve(before, pattern)) {
    if (firstMissing(before, path) >= 0) continue;
    const parent = valueAt(before, path.slice(0, -1));
    if (Array.isArray(parent)) {
      if (valueAt(before, path) !== null) changes.updated.push({ path, value: null });
    } else changes.removed.push(path);
  }
}

/** mongod's document diff (pipeline updates). */
function diffDocuments(changes: Changes, before: Document, after: Document, prefix: PathSegment[]): void {
  for (const key of Object.keys(before)) {
    if (!(key in after) || after[key] === undefined) changes.removed.push([...prefix, key]);
  }
  for (const [key, value] of Object.entries(after)) {
    if (value === undefined) continue;
    diffValue(changes, key in before ? before[key] : undefined, value, [...prefix, key], !(key in before));
  }
}

function diffArrays(changes: Changes, before: unknown[], after: unknown[], prefix: PathSegment[]): void {
  if (after.length < before.length) changes.truncated.push({ path: prefix, newSize: after.length });
  after.forEach((value, index) =>
    diffValue(changes, before[index], value, [...prefix, index], index >= before.length),
  );
}

function diffValue(
  changes: Changes,
  old: unknown,
  now: unknown,
  path: PathSegment[],
  created: boolean,
): void {
  if (created) return void changes.updated.push({ path, value: now });
  if (bsonEqual(old, now)) return;
  const sub = new Changes();
  if (isPlainDocument(old) && isPlainDocument(now)) diffDocuments(sub, old, now, path);
  else if (Array.isArray(old) && Array.isArray(now)) diffArrays(sub, old, now, path);
  if (sub.empty || sub.approximateDiffSize(path.length) > sizeOfValue(now))
    changes.updated.push({ path, value: now });
  else changes.merge(sub);
}

/** Concrete paths in `doc` matching a dotted pattern with `$`, `$[]` and `$[name]` wildcards over arrays. */
function resolve(doc: unknown, pattern: string[], at = 0, prefix: PathSegment[] = []): PathSegment[][] {
  if (at === pattern.length) return [prefix];
  const segment = pattern[at];
  if (/^\$(\[\w*\])?$/.test(segment)) {
    if (!Array.isArray(doc)) return [];
    return doc.flatMap((item, index) => resolve(item, pattern, at + 1, [...prefix, index]));
  }
  if (Array.isArray(doc) && /^\d+$/.test(segment)) {
    return resolve(doc[Number(segment)], pattern, at + 1, [...prefix, Number(segment)]);
  }
  const child = isPlainDocument(doc) ? doc[segment] : undefined;
  if (child === undefined && pattern.slice(at + 1).some((s) => s.startsWith('$'))) return [];
  return resolve(child, pattern, at + 1, [...prefix, segment]);
}

/** The depth at which `path` stops existing in `doc`, or -1 when it exists. */
function firstMissing(doc: unknown, path: PathSegment[]): number {
  let current = doc;
  for (let depth = 0; depth < path.length; depth++) {
    const segment = path[depth];
    if (Array.isArray(current) && typeof segment === 'number' && segment < current.length)
      current = current[segment];
    else if (
      isPlainDocument(current) &&
      typeof segment === 'string' &&
      segment in current &&
      current[segment] !== undefined
    ) {
      current = current[segment];
    } else return depth;
  }
  return -1;
}

function valueAt(doc: unknown, path: PathSegment[]): unknown {
  let current = doc;
  for (const segment of path) current = (current as Record<PathSegment, unknown> | undefined)?.[segment];
  return current;
}

/** Numeric-looking field names below the top level and field names with dots make a dotted path ambiguous. */
function isAmbiguous(path: PathSegment[]): boolean {
  return path.some(
    (segment, depth) =>
      typeof segment === 'string' && (segment.includes('.') || (depth > 0 && /^\d+$/.test(segment))),
  );
}

function isPlainDocument(value: unknown): value is Document {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Date) &&
    !('_bsontype' in value)
  );
}

function isStrictPrefix(prefix: PathSegment[], path: PathSegment[]): boolean {
  return prefix.length < path.length && prefix.every((segment, i) => segment === path[i]);
}

/** Value equality as mongod's no-op detection sees it (same BSON bytes). */
export function bsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return Buffer.compare(serialize({ v: a }), serialize({ v: b })) === 0;
}

/** Bytes of a value inside a document (without its type byte and name). */
function sizeOfValue(value: unknown): number {
  return calculateObjectSize({ v: value }) - 8;
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}
