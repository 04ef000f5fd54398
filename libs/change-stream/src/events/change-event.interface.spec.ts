/**
 * Type-level tests: `tsc` checks this file (npm run typecheck, and test/worker/change-event-types.spec.ts
 * compiles it in jest). Each `@ts-expect-error` line must fail to compile; if a change to the types
 * made it compile, tsc reports the unused directive and the test fails.
 */
import { ObjectId, type Decimal128 } from 'bson';
import {
  CHANGE_OPERATION_TYPES,
  type ChangeEvent,
  type ChangeEventOf,
  type ChangeOperationType,
  type DeleteEvent,
  type InsertEvent,
  type UpdateEvent,
} from './change-event.interface';

interface Order {
  _id: ObjectId;
  status: 'new' | 'paid' | 'shipped';
  total: Decimal128;
}

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const assertType = <T extends true>(): T => true as T;

export function narrowing(event: ChangeEvent<Order>): string | undefined {
  // @ts-expect-error fullDocument is not on every event: narrow by operationType first.
  void event.fullDocument;
  switch (event.operationType) {
    case 'insert':
    case 'replace':
    case 'snapshot':
      return event.fullDocument.status;
    case 'update':
      // @ts-expect-error an update's fullDocument is optional (updateLookup) and may be null.
      void event.fullDocument.status;
      void event.updateDescription.updatedFields?.status;
      return event.fullDocument?.status;
    case 'delete':
      // @ts-expect-error a delete has no fullDocument: the document is gone.
      void event.fullDocument?.status;
      // @ts-expect-error only updates describe an update.
      void event.updateDescription;
      return event.documentKey._id.toHexString();
    case 'rename':
      return event.to.coll;
    case 'drop':
      // @ts-expect-error a drop concerns a collection, not a document.
      void event.documentKey;
      return event.ns.coll;
    case 'invalidate':
      // @ts-expect-error an invalidate event has no namespace.
      void event.ns;
      return undefined;
    default:
      return event.operationType;
  }
}

export function deleteHasNoFullDocument(event: DeleteEvent<Order>): void {
  // @ts-expect-error reading fullDocument.status on a delete does not compile.
  void event.fullDocument.status;
  void event.fullDocumentBeforeChange?.status;
}

export function documentKeyIsTyped(event: InsertEvent<Order>): ObjectId {
  // @ts-expect-error the documentKey's _id has the document's _id type.
  const wrong: string = event.documentKey._id;
  void wrong;
  return event.documentKey._id;
}

export function updatedFieldsAreTyped(event: UpdateEvent<Order>): void {
  // @ts-expect-error status is one of the Order statuses.
  const status: number | undefined = event.updateDescription.updatedFields?.status;
  void status;
}

export const subsets = [
  assertType<Equal<ChangeEventOf<Order, 'insert'>, InsertEvent<Order>>>(),
  // @ts-expect-error a union member is missing from the equality, so it fails (the helper can fail)
  assertType<Equal<ChangeEventOf<Order, 'insert' | 'delete'>, InsertEvent<Order>>>(),
  assertType<Equal<ChangeEventOf<Order, 'delete' | 'insert'>, InsertEvent<Order> | DeleteEvent<Order>>>(),
  // Every operation type is listed at run time, and nothing else.
  assertType<Equal<(typeof CHANGE_OPERATION_TYPES)[number], ChangeOperationType>>(),
];

describe('ChangeEvent types', () => {
  it('lists every operation type once at run time', () => {
    expect(new Set(CHANGE_OPERATION_TYPES).size).toBe(CHANGE_OPERATION_TYPES.length);
    expect(CHANGE_OPERATION_TYPES).toEqual(
      expect.arrayContaining([
        'insert',
        'update',
        'replace',
        'delete',
        'snapshot',
        'drop',
        'rename',
        'dropDatabase',
        'invalidate',
      ]),
    );
  });

  it('narrows on operationType at run time as at compile time', () => {
    const _id = new ObjectId();
    const deleted: ChangeEvent<Order> = {
      _id: { _data: 'x' },
      operationType: 'delete',
      ns: { db: 'shop', coll: 'orders' },
      documentKey: { _id },
    };
    expect(narrowing(deleted)).toBe(_id.toHexString());
  });
});
