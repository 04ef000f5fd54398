/**
 * A multi-document transaction's private view of the data: a copy of each collection it touches,
 * taken at first touch (so its reads are a snapshot plus its own writes), applied atomically at
 * commit. A document changed by someone else since the transaction first touched it is a
 * WriteConflict at commit.
 */
import type { Document } from 'bson';
import type { WriteEvent } from '../contract';
import { ErrorCodes, serverError } from '../errors';
import { ErrorLabel } from '../labels';
import type { Collection, CollectionData } from './collection';
import type { Store } from './store';

export type TransactionState = 'inProgress' | 'committed' | 'aborted';

interface CollectionCopy {
  data: CollectionData;
  /** The committed version of each document the transaction wrote, as it was when first touched. */
  originals: Map<string, Document | undefined>;
}

export class Transaction {
  state: TransactionState = 'inProgress';
  /** Change events of the transaction's writes, in order; recorded at commit. */
  readonly events: WriteEvent[] = [];
  private readonly copies = new Map<Collection, CollectionCopy>();

  constructor(readonly txnNumber: number) {}

  /** The transaction's copy of a collection's data. */
  dataFor(collection: Collection): CollectionData {
    return this.copyOf(collection).data;
  }

  /** Notes that the transaction is about to write a document (call before changing the copy). */
  touch(collection: Collection, idKey: string): void {
    const copy = this.copyOf(collection);
    if (!copy.originals.has(idKey)) copy.originals.set(idKey, copy.data.get(idKey));
  }

  /**
   * Applies the transaction's writes to the committed data, all or nothing. Throws WriteConflict
   * (TransientTransactionError) when a written document or collection changed meanwhile.
   */
  commit(store: Store): void {
    const staged = [...this.copies].map(([collection, copy]) => {
      if (store.collection(collection.db, collection.name) !== collection) throw writeConflict();
      const changes = [...copy.originals].map(([idKey, before]) => {
        if (collection.data.get(idKey) !== before) throw writeConflict();
        return { idKey, before, after: copy.data.get(idKey) };
      });
      const next = collection.data.clone();
      try {
        next.applyChanges(changes);
      } catch {
        throw writeConflict();
      }
      return { collection, next };
    });
    for (const { collection, next } of staged) collection.data = next;
    this.state = 'committed';
  }

  abort(): void {
    if (this.state === 'inProgress') this.state = 'aborted';
    this.copies.clear();
  }

  private copyOf(collection: Collection): CollectionCopy {
    let copy = this.copies.get(collection);
    if (!copy) this.copies.set(collection, (copy = { data: collection.data.clone(), originals: new Map() }));
    return copy;
  }
}

const writeConflict = () =>
  serverError(
    ErrorCodes.WriteConflict,
    'Write conflict during plan execution and yielding is disabled. :: Please retry your operation or multi-document transaction.',
    [ErrorLabel.TransientTransactionError],
  );
