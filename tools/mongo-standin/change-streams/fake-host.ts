/**
 * An in-memory ChangeStreamHost for the engine's unit specs: collections with UUIDs and the
 * pre/post-image flag, documents by `_id`.
 */
import { UUID, type Binary, type Document } from 'bson';
import type { ChangeStreamHost, WriteEvent } from './contract';

/** A fake storage that also builds the WriteEvents a real server would report. */
export class FakeHost implements ChangeStreamHost {
  private readonly collections = new Map<
    string,
    { uuid: Binary; images: boolean; docs: Map<string, Document> }
  >();

  /** Creates (or returns) a collection. */
  ensure(db: string, coll: string, images?: boolean) {
    const ns = `${db}.${coll}`;
    let collection = this.collections.get(ns);
    if (!collection)
      this.collections.set(ns, (collection = { uuid: new UUID(), images: false, docs: new Map() }));
    if (images !== undefined) collection.images = images;
    return collection;
  }

  findByKey(db: string, coll: string, documentKey: Document): Document | null {
    return this.collections.get(`${db}.${coll}`)?.docs.get(JSON.stringify(documentKey._id)) ?? null;
  }

  collectionInfo(db: string, coll: string) {
    const collection = this.collections.get(`${db}.${coll}`);
    return collection ? { uuid: collection.uuid, changeStreamPreAndPostImages: collection.images } : null;
  }

  insert(db: string, coll: string, doc: Document): WriteEvent {
    const collection = this.ensure(db, coll);
    collection.docs.set(JSON.stringify(doc._id), doc);
    return {
      op: 'insert',
      db,
      coll,
      collectionUUID: collection.uuid,
      documentKey: { _id: doc._id },
      after: doc,
    };
  }

  update(db: string, coll: string, after: Document, update?: Document | Document[]): WriteEvent {
    const collection = this.ensure(db, coll);
    const before = collection.docs.get(JSON.stringify(after._id));
    if (!before) throw new Error(`FakeHost: no document ${JSON.stringify(after._id)} in ${db}.${coll}`);
    collection.docs.set(JSON.stringify(after._id), after);
    return {
      op: update ? 'update' : 'replace',
      db,
      coll,
      collectionUUID: collection.uuid,
      documentKey: { _id: after._id },
      before,
      after,
      update,
    };
  }

  delete(db: string, coll: string, id: unknown): WriteEvent {
    const collection = this.ensure(db, coll);
    const before = collection.docs.get(JSON.stringify(id));
    collection.docs.delete(JSON.stringify(id));
    return { op: 'delete', db, coll, collectionUUID: collection.uuid, documentKey: { _id: id }, before };
  }

  drop(db: string, coll: string): WriteEvent {
    const uuid = this.collections.get(`${db}.${coll}`)?.uuid;
    this.collections.delete(`${db}.${coll}`);
    return { op: 'drop', db, coll, collectionUUID: uuid };
  }
}
