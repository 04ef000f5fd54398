/**
 * The retained oplog as mongod shows it in `local.oplog.rs` (a capped collection in natural
 * order): one document per committed write, or one `applyOps` document per transaction, with
 * `ts`, `t`, `v`, `op`, `ns`, `ui`, `o`, `o2` and `wall` (an update's `o` is the document after it,
 * where mongod writes a diff: readers of the window use `ts` and `wall`). It is rendered from the same entries
 * change streams read, so what the collection shows and what streams can resume from agree: when
 * retention drops an entry (or truncate() drops them all), it leaves both at once.
 */
import { Long, Timestamp, type Document } from 'bson';
import type { WriteEvent } from './contract';
import type { Oplog, OplogEntry } from './oplog';
import { TokenType } from './resume-token';

const TERM = Long.fromNumber(1);
const VERSION = Long.fromNumber(2);
const CRUD_OPS: Partial<Record<WriteEvent['op'], string>> = {
  insert: 'i',
  update: 'u',
  replace: 'u',
  delete: 'd',
};

/** Every retained entry as `local.oplog.rs` documents, oldest first. */
export function oplogDocuments(oplog: Oplog): Document[] {
  const start = { clusterTime: new Timestamp({ t: 0, i: 0 }), tokenType: TokenType.Event, txnOpIndex: 0, fromInvalidate: false }; // prettier-ignore
  const groups: OplogEntry[][] = [];
  for (const entry of oplog.from(start)) {
    const last = groups[groups.length - 1];
    const sameTransaction =
      last?.[0].write.lsid && last[0].position.clusterTime.equals(entry.position.clusterTime);
    if (sameTransaction) last.push(entry);
    else groups.push([entry]);
  }
  return groups.map(render);
}

/**
 * One write, or a transaction's writes as one applyOps entry (they share a cluster time). Writes
 * of one command outside a transaction (an implicit create and its insert) also share one here,
 * where mongod gives each its own `ts`.
 */
function render(entries: OplogEntry[]): Document {
  const [first] = entries;
  const common = { ts: first.position.clusterTime, t: TERM, v: VERSION, wall: first.wallTime };
  if (entries.length === 1 && !first.write.lsid) return { ...operation(first), ...common };
  const { lsid, txnNumber } = first.write;
  return {
    lsid,
    txnNumber,
    op: 'c',
    ns: 'admin.$cmd',
    o: { applyOps: entries.map(operation) },
    ...common,
  };
}

/** The operation part of an entry: what it did, to which namespace. */
function operation({ write, collectionUUID }: OplogEntry): Document {
  const ns = `${write.db}.${write.coll}`;
  const ui = collectionUUID ? { ui: collectionUUID } : {};
  const crud = CRUD_OPS[write.op];
  if (crud === 'i') return { op: crud, ns, ...ui, o: write.after, o2: write.documentKey };
  if (crud === 'u') return { op: crud, ns, ...ui, o: write.after, o2: write.documentKey };
  if (crud === 'd') return { op: crud, ns, ...ui, o: write.documentKey };
  return { op: 'c', ns: `${write.db}.$cmd`, ...ui, o: command(write) };
}

/** The command a DDL entry records. */
function command(write: WriteEvent): Document {
  switch (write.op) {
    case 'dropDatabase':
      return { dropDatabase: 1 };
    case 'rename':
      return { renameCollection: `${write.db}.${write.coll}`, to: `${write.to!.db}.${write.to!.coll}` };
    case 'drop':
      return { drop: write.coll };
    default:
      return { [write.op]: write.coll, ...(write.operationDescription ?? {}) };
  }
}
