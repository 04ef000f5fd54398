import { CHANGE_EVENT_HEADERS as H } from '../events/change-event.headers';
import type { ChangeMessage } from './change-message';

/** The messages of one fetched batch of a partition, with the fragments of split events joined. */
export interface AssembledBatch {
  /** Whole messages, in order: a complete run of fragments is one message at its last fragment's offset. */
  messages: ChangeMessage[];
  /**
   * Fragments at the end of the batch whose event is not complete yet (0 when none). They are not
   * returned, so their offsets stay unresolved: kafkajs fetches again from the first of them.
   */
  pendingFragments: number;
}

/** Field order of a change event as MongoDB writes it, restored after a split (which orders fields by size). */
const EVENT_FIELD_ORDER = [
  '_id',
  'operationType',
  'clusterTime',
  'wallTime',
  'txnNumber',
  'lsid',
  'collectionUUID',
  'ns',
  'to',
  'documentKey',
  'updateDescription',
  'operationDescription',
  'fullDocument',
  'fullDocumentBeforeChange',
];

/** `<n>/<of>` of a fragment message, or undefined for a whole event. */
function fragmentOf(message: ChangeMessage): { n: number; of: number; eventId: string } | undefined {
  const raw = header(message, H.fragment);
  if (raw === undefined) return undefined;
  const match = /^(\d+)\/(\d+)$/.exec(raw);
  return {
    n: match ? Number(match[1]) : 0,
    of: match ? Number(match[2]) : 0,
    eventId: header(message, H.splitEventId) ?? '',
  };
}

function header(message: ChangeMessage, name: string): string | undefined {
  const raw = message.headers[name];
  const first = Array.isArray(raw) ? raw[0] : raw;
  return first === undefined ? undefined : first.toString();
}

/**
 * Joins the fragments of split events (`streams[].splitLargeEvents`) in one partition's batch,
 * before decoding and dispatch. The relay publishes an event's fragments consecutively, with one
 * key (so one partition) and the headers `cdc-fragment: <n>/<of>` and `cdc-split-event-id`.
 *
 * - A complete run 1..of of one event becomes one message: the event's fields merged, `_id` and
 *   headers of the first fragment, event id `cdc-split-event-id`, offset of the last fragment (so
 *   resolving it resolves them all, once the whole event was handled).
 * - A run restarted at fragment 1 of the same event (the relay replayed it after a crash) starts
 *   over; the partial run is dropped (its offsets are resolved with the complete run's).
 * - An unfinished run at the end of the batch is held back (see {@link AssembledBatch}); no state
 *   is kept between batches, so a crash replays the event from its first fragment.
 * - A run that cannot complete (a fragment missing, one of another event, an unreadable fragment)
 *   becomes one message without a value, at its last fragment's offset: it is undecodable, so the
 *   dispatcher dead-letters it with the first fragment's headers. Nothing partial reaches a handler.
 */
export function assembleFragments(batch: readonly ChangeMessage[]): AssembledBatch {
  const messages: ChangeMessage[] = [];
  let run: ChangeMessage[] = [];
  const flushBroken = () => {
    if (run.length) messages.push(broken(run));
    run = [];
  };
  for (const message of batch) {
    const fragment = fragmentOf(message);
    if (!fragment) {
      flushBroken();
      messages.push(message);
      continue;
    }
    if (fragment.n === 1) {
      // NOTE: the same event from its first fragment again is the relay's replay: it supersedes the partial run.
      if (run.length && fragmentOf(run[0])!.eventId === fragment.eventId) run = [];
      flushBroken();
    }
    if (!continues(run, fragment)) {
      flushBroken();
      messages.push(broken([message]));
      continue;
    }
    run.push(message);
    if (fragment.n === fragment.of) {
      messages.push(joined(run));
      run = [];
    }
  }
  return { messages, pendingFragments: run.length };
}

/** True when `fragment` is the next one of the run (or a well-formed first one). */
function continues(run: ChangeMessage[], fragment: { n: number; of: number; eventId: string }): boolean {
  if (fragment.n < 1 || fragment.n > fragment.of || !fragment.eventId) return false;
  if (run.length === 0) return fragment.n === 1;
  const last = fragmentOf(run[run.length - 1])!;
  return fragment.n === last.n + 1 && fragment.of === last.of && fragment.eventId === last.eventId;
}

/** The whole event of a complete run. An unreadable fragment makes the run broken instead. */
function joined(run: ChangeMessage[]): ChangeMessage {
  const fields: Record<string, unknown> = {};
  for (const message of [...run].reverse()) {
    let value: unknown;
    try {
      value = JSON.parse(message.value?.toString() ?? '');
    } catch {
      return broken(run);
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) return broken(run);
    Object.assign(fields, value);
  }
  delete fields.splitEvent;
  const [first, last] = [run[0], run[run.length - 1]];
  return {
    ...last,
    key: first.key,
    value: Buffer.from(JSON.stringify(inEventOrder(fields))),
    headers: wholeHeaders(first),
  };
}

/** A run that cannot become an event: no value (undecodable), first fragment's headers, last offset. */
function broken(run: ChangeMessage[]): ChangeMessage {
  const [first, last] = [run[0], run[run.length - 1]];
  return { ...last, key: first.key, value: null, headers: { ...first.headers } };
}

function wholeHeaders(first: ChangeMessage): ChangeMessage['headers'] {
  const headers = { ...first.headers };
  const eventId = header(first, H.splitEventId);
  if (eventId) headers[H.eventId] = eventId;
  delete headers[H.fragment];
  return headers;
}

function inEventOrder(fields: Record<string, unknown>): Record<string, unknown> {
  const ordered: Record<string, unknown> = {};
  for (const name of EVENT_FIELD_ORDER) if (name in fields) ordered[name] = fields[name];
  return Object.assign(ordered, fields);
}

/** How long a partition waits for the rest of a split event before fetching it again. */
export const FRAGMENT_WAIT_MS = 200;

/**
 * Why a batch that held back fragments brought nothing whole, for the log: undefined while the rest
 * of the event may simply not be published yet; a message naming the fix when the partition already
 * holds more (`highWatermark`) than this fetch returned, i.e. the fetch is too small for the event.
 */
export function incompleteEventProblem(
  batch: { topic: string; partition: number; highWatermark: string; messages: readonly { offset: string }[] },
  pendingFragments: number,
): string | undefined {
  const last = batch.messages[batch.messages.length - 1];
  if (!last || BigInt(last.offset) + 1n >= BigInt(batch.highWatermark)) return undefined;
  return (
    `${batch.topic}[${batch.partition}]: a split event's ${pendingFragments} first fragments fill a whole fetch, ` +
    'so the consumer cannot read the rest of the event. Raise worker.kafka.maxBytesPerPartition and ' +
    'worker.kafka.maxBytes above the largest split event (e.g. 67108864); the partition waits meanwhile.'
  );
}
