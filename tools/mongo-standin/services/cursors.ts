/**
 * Server cursors: ids, batching, and the reply shapes of find / aggregate / getMore. A cursor
 * over documents holds its result set (computed when opened); a change-stream cursor delegates to
 * the engine.
 */
import { calculateObjectSize, Long, type Document } from 'bson';
import type { ChangeStreamCursor } from '../change-streams/contract';
import { ErrorCodes, serverError } from '../errors/server-error';
import { MAX_BSON_OBJECT_SIZE } from '../wire/protocol';

/** mongod's default size of a first batch. */
export const DEFAULT_FIRST_BATCH_SIZE = 101;
/** Room left in a 16 MiB reply for the envelope around a batch. */
const BATCH_BYTES = MAX_BSON_OBJECT_SIZE - 16 * 1024;

export interface Batch {
  documents: Document[];
  /** No more results: the reply carries cursor id 0. */
  exhausted: boolean;
  postBatchResumeToken?: Document;
}

/** A cursor over a result set computed when it was opened. */
export class DocumentCursor {
  readonly kind = 'documents';
  private position = 0;

  constructor(
    readonly ns: string,
    private readonly documents: Document[],
  ) {}

  /** The next batch: up to `batchSize` documents (all that remain when absent), capped at 16 MiB. */
  next(batchSize: number | undefined): Batch {
    const documents: Document[] = [];
    let bytes = 0;
    const wanted = batchSize && batchSize > 0 ? batchSize : Infinity;
    while (this.position < this.documents.length && documents.length < wanted) {
      const size = calculateObjectSize(this.documents[this.position]);
      if (documents.length && bytes + size > BATCH_BYTES) break;
      bytes += size;
      documents.push(this.documents[this.position++]);
    }
    return { documents, exhausted: this.position >= this.documents.length };
  }

  close(): void {}
}

/** A change-stream cursor of the engine, under a server cursor id. */
export class ChangeStreamServerCursor {
  readonly kind = 'changeStream';

  constructor(readonly stream: ChangeStreamCursor) {}

  get ns(): string {
    return this.stream.ns;
  }

  close(): void {
    this.stream.close();
  }
}

export type ServerCursor = DocumentCursor | ChangeStreamServerCursor;

/** Open cursors by id. */
export class CursorRegistry {
  private readonly cursors = new Map<number, ServerCursor>();
  // NOTE: ids stay below 2^53 so they survive the promotion of int64 to number on the way back in.
  private nextId = 1 + Math.floor(Math.random() * 2 ** 40);

  register(cursor: ServerCursor): number {
    const id = this.nextId++;
    this.cursors.set(id, cursor);
    return id;
  }

  /** The cursor with this id; CursorNotFound (43) when there is none. */
  get(id: number): ServerCursor {
    const cursor = this.cursors.get(id);
    if (!cursor) throw serverError(ErrorCodes.CursorNotFound, `cursor id ${id} not found`);
    return cursor;
  }

  kill(id: number): boolean {
    const cursor = this.cursors.get(id);
    cursor?.close();
    return this.cursors.delete(id);
  }

  closeAll(): void {
    for (const id of [...this.cursors.keys()]) this.kill(id);
  }
}

/** A cursor id as it arrives on the wire (int64, promoted to a number when small). */
export const cursorIdOf = (value: unknown): number =>
  value instanceof Long ? value.toNumber() : typeof value === 'number' ? value : Number.NaN;

/** `{ cursor: { id, ns, firstBatch | nextBatch, postBatchResumeToken? }, ok: 1 }`. */
export function cursorReply(
  id: number,
  ns: string,
  batch: Batch,
  field: 'firstBatch' | 'nextBatch',
): Document {
  return {
    cursor: {
      [field]: batch.documents,
      ...(batch.postBatchResumeToken ? { postBatchResumeToken: batch.postBatchResumeToken } : {}),
      id: Long.fromNumber(batch.exhausted ? 0 : id),
      ns,
    },
    ok: 1,
  };
}
