/**
 * Fills Fetch answers of librdkafka's mock broker the way a Kafka broker fills them.
 *
 * The mock answers a Fetch with at most one record batch per partition (the one a single Produce
 * request wrote; "FIXME: Multiple messageSets ?" in rdkafka_mock_handlers.c). A Kafka broker
 * returns every batch from the fetch offset up to the partition's and the request's byte limits.
 * With the mock, a consumer behind a producer that sends small batches (a relay at a moderate
 * rate) gets one small batch per partition per round trip, however large the backlog: its
 * throughput is capped by the mock, not by the consumer.
 *
 * The group-sync proxy calls {@link completeFetch} with each Fetch answer that carried records: it
 * asks the mock for the following batches (Fetch requests of its own, MaxWait 0, only the partitions
 * that can take more) and appends them, within the same limits a broker applies, before the answer
 * goes to the client. Versions 4 to 11 (the non-flexible ones kafkajs uses), without a fetch session;
 * others pass unchanged.
 */

import { Reader, Writer } from './kafka-wire';

/** Fetch request versions this module reads and writes. */
export const FETCH_VERSIONS = { min: 4, max: 11 } as const;
/** Follow-up rounds per answer at most (each round asks for every partition that can take more). */
const MAX_ROUNDS = 64;

export interface FetchPartitionRequest {
  partition: number;
  currentLeaderEpoch: number;
  fetchOffset: bigint;
  logStartOffset: bigint;
  maxBytes: number;
}

export interface FetchRequest {
  apiVersion: number;
  clientId: string | null;
  replicaId: number;
  maxWait: number;
  minBytes: number;
  maxBytes: number;
  isolationLevel: number;
  topics: Array<{ topic: string; partitions: FetchPartitionRequest[] }>;
}

export interface FetchPartitionResponse {
  partition: number;
  errorCode: number;
  highWatermark: bigint;
  lastStableOffset: bigint;
  logStartOffset: bigint;
  /** The aborted-transactions array as it came (count included). */
  aborted: Buffer;
  preferredReadReplica: number;
  records: Buffer | null;
}

export interface FetchResponse {
  correlationId: number;
  throttleTimeMs: number;
  errorCode: number;
  sessionId: number;
  topics: Array<{ topic: string; partitions: FetchPartitionResponse[] }>;
}

/** Reads a Fetch request frame (size prefix included); undefined for a version this module does not know. */
export function readFetchRequest(frame: Buffer): FetchRequest | undefined {
  const apiVersion = frame.readInt16BE(6);
  if (apiVersion < FETCH_VERSIONS.min || apiVersion > FETCH_VERSIONS.max) return undefined;
  const r = new Reader(frame, 12);
  const clientId = r.string();
  const request: FetchRequest = {
    apiVersion,
    clientId,
    replicaId: r.int32(),
    maxWait: r.int32(),
    minBytes: r.int32(),
    maxBytes: r.int32(),
    isolationLevel: r.int8(),
    topics: [],
  };
  // NOTE: a Fetch in an incremental fetch session (KIP-227) names only changed partitions; kafkajs
  // never opens one (session id 0, epoch -1). Anything else passes unchanged.
  if (apiVersion >= 7 && (r.int32() !== 0 || r.int32() !== -1)) return undefined;
  for (let t = r.int32(); t > 0; t--) {
    const topic = r.string() ?? '';
    const partitions: FetchPartitionRequest[] = [];
    for (let p = r.int32(); p > 0; p--) {
      partitions.push({
        partition: r.int32(),
        currentLeaderEpoch: apiVersion >= 9 ? r.int32() : -1,
        fetchOffset: r.int64(),
        logStartOffset: apiVersion >= 5 ? r.int64() : -1n,
        maxBytes: r.int32(),
      });
    }
    request.topics.push({ topic, partitions });
  }
  return request;
}

/** Writes a Fetch request frame (no fetch session, nothing forgotten). */
export function writeFetchRequest(request: FetchRequest, correlationId: number): Buffer {
  const w = new Writer();
  const v = request.apiVersion;
  w.int16(1).int16(v).int32(correlationId).string(request.clientId);
  w.int32(request.replicaId).int32(request.maxWait).int32(request.minBytes).int32(request.maxBytes);
  w.int8(request.isolationLevel);
  if (v >= 7) w.int32(0).int32(-1);
  w.int32(request.topics.length);
  for (const { topic, partitions } of request.topics) {
    w.string(topic).int32(partitions.length);
    for (const p of partitions) {
      w.int32(p.partition);
      if (v >= 9) w.int32(p.currentLeaderEpoch);
      w.int64(p.fetchOffset);
      if (v >= 5) w.int64(p.logStartOffset);
      w.int32(p.maxBytes);
    }
  }
  if (v >= 7) w.int32(0);
  if (v >= 11) w.string('');
  return w.frame();
}

/** Reads a Fetch response frame (size prefix included) of `apiVersion`. */
export function readFetchResponse(frame: Buffer, apiVersion: number): FetchResponse {
  const r = new Reader(frame, 4);
  const response: FetchResponse = {
    correlationId: r.int32(),
    throttleTimeMs: r.int32(),
    errorCode: apiVersion >= 7 ? r.int16() : 0,
    sessionId: apiVersion >= 7 ? r.int32() : 0,
    topics: [],
  };
  for (let t = r.int32(); t > 0; t--) {
    const topic = r.string() ?? '';
    const partitions: FetchPartitionResponse[] = [];
    for (let p = r.int32(); p > 0; p--) {
      const partition = r.int32();
      const errorCode = r.int16();
      const highWatermark = r.int64();
      const lastStableOffset = r.int64();
      const logStartOffset = apiVersion >= 5 ? r.int64() : -1n;
      const abortedStart = r.offset;
      const aborted = r.int32();
      if (aborted > 0) r.skip(aborted * 16);
      partitions.push({
        partition,
        errorCode,
        highWatermark,
        lastStableOffset,
        logStartOffset,
        aborted: frame.subarray(abortedStart, r.offset),
        preferredReadReplica: apiVersion >= 11 ? r.int32() : -1,
        records: r.bytes(),
      });
    }
    response.topics.push({ topic, partitions });
  }
  return response;
}

/** Writes a Fetch response frame of `apiVersion`. */
export function writeFetchResponse(response: FetchResponse, apiVersion: number): Buffer {
  const w = new Writer();
  w.int32(response.correlationId).int32(response.throttleTimeMs);
  if (apiVersion >= 7) w.int16(response.errorCode).int32(response.sessionId);
  w.int32(response.topics.length);
  for (const { topic, partitions } of response.topics) {
    w.string(topic).int32(partitions.length);
    for (const p of partitions) {
      w.int32(p.partition).int16(p.errorCode).int64(p.highWatermark).int64(p.lastStableOffset);
      if (apiVersion >= 5) w.int64(p.logStartOffset);
      w.raw(p.aborted);
      if (apiVersion >= 11) w.int32(p.preferredReadReplica);
      w.bytes(p.records);
    }
  }
  return w.frame();
}

/** The offset after the last complete record batch of `records`, or undefined when there is none. */
export function nextOffsetOf(records: Buffer): bigint | undefined {
  let next: bigint | undefined;
  for (let at = 0; at + 27 <= records.length;) {
    const size = 12 + records.readInt32BE(at + 8);
    if (at + size > records.length) break;
    next = records.readBigInt64BE(at) + BigInt(records.readInt32BE(at + 23)) + 1n;
    at += size;
  }
  return next;
}

/**
 * Appends the following record batches to the partitions of `first` that carried records and have
 * more below their high watermark, asking `fetch` (a Fetch of the proxy's own, answered by the same
 * broker) until each partition's byte limit, the request's byte limit, or the end of its log.
 * Returns `first`, changed in place; a failed or empty follow-up just ends the filling.
 */
export async function completeFetch(
  request: FetchRequest,
  first: FetchResponse,
  fetch: (request: FetchRequest) => Promise<FetchResponse | null>,
): Promise<FetchResponse> {
  const limits = new Map<string, FetchPartitionRequest>();
  for (const { topic, partitions } of request.topics)
    for (const p of partitions) limits.set(`${p.partition}\u0000${topic}`, p);
  const parts = new Map<string, { topic: string; response: FetchPartitionResponse; chunks: Buffer[] }>();
  let total = 0;
  for (const { topic, partitions } of first.topics) {
    for (const response of partitions) {
      const size = response.records?.length ?? 0;
      total += size;
      if (response.errorCode === 0 && size > 0)
        parts.set(`${response.partition}\u0000${topic}`, { topic, response, chunks: [response.records!] });
    }
  }
  const sizeOf = (part: { chunks: Buffer[] }) => part.chunks.reduce((sum, c) => sum + c.length, 0);
  // NOTE: `parts` keeps every partition's chunks; `open` holds those that may take more.
  const open = new Set(parts.keys());
  for (let round = 0; round < MAX_ROUNDS && total < request.maxBytes; round++) {
    const wanted = new Map<string, FetchPartitionRequest[]>();
    for (const key of open) {
      const part = parts.get(key)!;
      const limit = limits.get(key);
      const next = nextOffsetOf(part.chunks[part.chunks.length - 1]);
      const room = (limit?.maxBytes ?? 0) - sizeOf(part);
      if (!limit || next === undefined || room <= 0 || next >= part.response.highWatermark) {
        open.delete(key);
        continue;
      }
      const list = wanted.get(part.topic) ?? [];
      list.push({ ...limit, fetchOffset: next, logStartOffset: -1n, maxBytes: room });
      wanted.set(part.topic, list);
    }
    if (wanted.size === 0) break;
    const more = await fetch({
      ...request,
      maxWait: 0,
      minBytes: 0,
      maxBytes: request.maxBytes - total,
      topics: [...wanted].map(([topic, partitions]) => ({ topic, partitions })),
    });
    if (!more) break;
    let added = 0;
    for (const { topic, partitions } of more.topics) {
      for (const response of partitions) {
        const key = `${response.partition}\u0000${topic}`;
        const part = open.has(key) ? parts.get(key) : undefined;
        if (!part) continue;
        const records = response.records;
        if (response.errorCode !== 0 || !records?.length) {
          open.delete(key);
          continue;
        }
        part.chunks.push(records);
        part.response.highWatermark = response.highWatermark;
        part.response.lastStableOffset = response.lastStableOffset;
        total += records.length;
        added += records.length;
      }
    }
    if (added === 0) break;
  }
  for (const { topic, partitions } of first.topics) {
    for (const response of partitions) {
      const key = `${response.partition}\u0000${topic}`;
      const part = parts.get(key);
      if (part && part.chunks.length > 1) response.records = Buffer.concat(part.chunks);
    }
  }
  return first;
}
