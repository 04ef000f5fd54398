/**
 * Snapshots, as WiredTiger gives mongod: one version counter for the whole store (every document
 * change gets the next number) and the open snapshots by version. A transaction reads one snapshot
 * for all collections, taken at its first statement; while any snapshot is open, each collection
 * keeps the document versions its later changes replaced (a {@link DocumentHistory}), dropped once
 * no open snapshot needs them. Nothing is copied up front.
 */
import type { Document } from 'bson';

/** What a document was before the change numbered `version`. */
interface PastVersion {
  version: number;
  before: Document | undefined;
}

/** The versions one collection's changes replaced while snapshots were open. */
export class DocumentHistory {
  /** Oldest first (each document's previous version, with the number of the change). */
  private readonly log: Array<PastVersion & { idKey: string }> = [];
  /** The same, by document. */
  private readonly byDocument = new Map<string, PastVersion[]>();

  get isEmpty(): boolean {
    return this.log.length === 0;
  }

  record(version: number, idKey: string, before: Document | undefined): void {
    this.log.push({ version, idKey, before });
    let versions = this.byDocument.get(idKey);
    if (!versions) this.byDocument.set(idKey, (versions = []));
    versions.push({ version, before });
  }

  /** Drops what no snapshot at or after `oldest` needs (everything when no snapshot is open). */
  prune(oldest: number | undefined): void {
    if (oldest === undefined) {
      this.log.length = 0;
      this.byDocument.clear();
      return;
    }
    let dropped = 0;
    while (dropped < this.log.length && this.log[dropped].version <= oldest) {
      const { idKey } = this.log[dropped++];
      const versions = this.byDocument.get(idKey)!;
      versions.shift();
      if (!versions.length) this.byDocument.delete(idKey);
    }
    if (dropped) this.log.splice(0, dropped);
  }

  /** Whether the document has past versions kept (else the current one is what every snapshot sees). */
  has(idKey: string): boolean {
    return this.byDocument.has(idKey);
  }

  /** The document as the snapshot at `version` saw it, given its current version. */
  at(idKey: string, version: number, current: Document | undefined): Document | undefined {
    const versions = this.byDocument.get(idKey);
    if (!versions) return current;
    const next = firstAfter(versions, version);
    return next < versions.length ? versions[next].before : current;
  }

  changedAfter(idKey: string, version: number): boolean {
    const versions = this.byDocument.get(idKey);
    return versions !== undefined && versions[versions.length - 1].version > version;
  }

  /** The `_id` keys changed after `version` (repeats possible). */
  *changedSince(version: number): Iterable<string> {
    for (let i = firstAfter(this.log, version); i < this.log.length; i++) yield this.log[i].idKey;
  }

  /** The `_id` keys with past versions (documents deleted since a snapshot among them). */
  keys(): Iterable<string> {
    return this.byDocument.keys();
  }
}

/** The store's version counter and open snapshots. */
export class VersionClock {
  private version = 0;
  /** Open snapshots by version (how many at each). */
  private readonly open = new Map<number, number>();
  /** Histories holding past versions, pruned when a snapshot closes. */
  private readonly histories = new Set<DocumentHistory>();

  /** Numbers a change; returns the history to record it in when a snapshot may need it. */
  tick(history: DocumentHistory): { version: number; keep: boolean } {
    const version = ++this.version;
    if (!this.open.size) return { version, keep: false };
    this.histories.add(history);
    return { version, keep: true };
  }

  /** Opens a snapshot of everything as it is now; returns its version. */
  openSnapshot(): number {
    this.open.set(this.version, (this.open.get(this.version) ?? 0) + 1);
    return this.version;
  }

  /** Closes a snapshot; the versions no open snapshot needs any more are dropped. */
  closeSnapshot(version: number): void {
    const count = this.open.get(version);
    if (count === undefined) return;
    if (count > 1) {
      this.open.set(version, count - 1);
      return;
    }
    this.open.delete(version);
    const oldest = this.open.size ? Math.min(...this.open.keys()) : undefined;
    for (const history of this.histories) {
      history.prune(oldest);
      if (history.isEmpty) this.histories.delete(history);
    }
  }
}

/** The position of the first entry numbered after `version` (entries ascending by version). */
function firstAfter(entries: ReadonlyArray<{ version: number }>, version: number): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (entries[middle].version <= version) low = middle + 1;
    else high = middle;
  }
  return low;
}
