/**
 * A Kafka-protocol proxy in front of the stand-in's brokers that makes the mock group coordinator
 * complete a rebalance the way a real one does.
 *
 * librdkafka's mock coordinator (2.0.2 and later) ends a group's sync as soon as the leader's
 * SyncGroup (carrying every member's assignment) arrives: it answers the members already waiting
 * and moves the group to Up. A follower whose SyncGroup of the same generation arrives after the
 * leader's is answered INVALID_REQUEST (a Kafka broker answers it with its assignment), which
 * kafkajs treats as fatal: the consumer crashes without restarting. The leader sends its SyncGroup
 * one metadata round trip after its JoinGroup response, a follower at once; so a follower that is a
 * few milliseconds late (a process just started, a busy event loop, two cores shared by many
 * processes) loses, which is how a replica that joins a running group fails.
 *
 * The proxy holds the leader's SyncGroup until every other member named in the leader's JoinGroup
 * response has sent its own (or `holdMs` passed: a member that never syncs must not stall the
 * group), so the coordinator answers them all together. A SyncGroup answered INVALID_REQUEST anyway
 * is rewritten to REBALANCE_IN_PROGRESS, which makes the member rejoin instead of crashing.
 *
 * It also answers Fetch the way a broker does (`fillFetches`, default true):
 * - the mock returns one record batch per partition per Fetch; the proxy appends the following ones
 *   up to the request's byte limits (fetch-completion.ts), so a consumer behind a producer of small
 *   batches is not capped at one batch per round trip;
 * - the mock holds a Fetch that found nothing for its full MaxWait, even when data arrives
 *   meanwhile; the proxy asks with MaxWait 0 and, when nothing came, asks again as soon as a Produce
 *   through the proxy is acknowledged (or MaxWait has passed), so new data reaches a waiting
 *   consumer at once, as with a broker's long poll. Produce requests that bypass the proxy do not
 *   wake it: such data comes at MaxWait, as from the bare mock.
 *
 * Everything else is passed through; the broker addresses in Metadata and FindCoordinator answers
 * are rewritten to the proxy's ports, so clients keep talking through it. `down(id)` / `up(id)`
 * close and reopen a broker's proxy port along with the broker.
 */
import { createServer, Socket, type Server } from 'node:net';
import {
  completeFetch,
  readFetchRequest,
  readFetchResponse,
  writeFetchRequest,
  writeFetchResponse,
  type FetchRequest,
} from './fetch-completion';
import { Reader } from './kafka-wire';

const API = { produce: 0, fetch: 1, metadata: 3, findCoordinator: 10, joinGroup: 11, syncGroup: 14 } as const;
const INVALID_REQUEST = 42;
const REBALANCE_IN_PROGRESS = 27;
const DEFAULT_HOLD_MS = 2_000;

/** One generation of one group, as the leader's JoinGroup answer described it. */
interface Generation {
  generation: number;
  leader: string;
  /** Members other than the leader that have not sent their SyncGroup yet. */
  waiting: Set<string>;
  /** The leader's held SyncGroup, released once `waiting` is empty or the hold timed out. */
  release?: () => void;
}

export interface GroupSyncProxy {
  /** Bootstrap addresses of the proxy, one per upstream broker, in the same order. */
  readonly brokers: string[];
  /** Closes broker `id`'s port and its connections (with `brokerDown`). */
  down(id: number): Promise<void>;
  /** Opens broker `id`'s port again, on the same port number. */
  up(id: number): Promise<void>;
  /** How many follower SyncGroups were answered INVALID_REQUEST and rewritten (after a hold timed out). */
  readonly rewrites: number;
  /** How many leader SyncGroups were held for a late follower. */
  readonly held: number;
  /** How many Fetch answers got further record batches appended. */
  readonly filledFetches: number;
  /** Client Fetches waiting for data right now. */
  readonly waitingFetches: number;
  close(): Promise<void>;
}

interface Pending {
  apiKey: number;
  apiVersion: number;
  groupId?: string;
  fetch?: FetchRequest;
}

/** Starts one proxy port per upstream `host:port` (broker ids 1..N in order). */
export async function startGroupSyncProxy(
  upstream: string[],
  { holdMs = DEFAULT_HOLD_MS, fillFetches = true }: { holdMs?: number; fillFetches?: boolean } = {},
): Promise<GroupSyncProxy> {
  const generations = new Map<string, Generation>();
  /** Followers' SyncGroups of a generation whose leader's JoinGroup answer the proxy has not read yet. */
  const early = new Map<string, { generation: number; members: Set<string> }>();
  const listeners: Array<{ server: Server | null; port: number; sockets: Set<Socket> }> = [];
  const stats = { rewrites: 0, held: 0, filledFetches: 0 };
  /** Fetches waiting for data (all connections): woken when a Produce through the proxy is acknowledged. */
  const sleepers = new Set<() => void>();
  /** Produce acknowledgements seen so far: a Fetch sent before one may have missed its data. */
  let produced = 0;
  const wakeAll = () => {
    produced++;
    const woken = [...sleepers];
    sleepers.clear();
    for (const wake of woken) wake();
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      sleepers.add(done);
    });
  const ports = new Map<number, number>(); // upstream broker port -> proxy port

  const listen = (index: number, port = 0) =>
    new Promise<Server>((resolve, reject) => {
      const server = createServer((client) => connect(index, client));
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve(server);
      });
    });

  const connect = (index: number, client: Socket) => {
    const entry = listeners[index];
    const [host, port] = upstream[index].split(':');
    const broker = new Socket();
    entry.sockets.add(client);
    const end = () => {
      entry.sockets.delete(client);
      client.destroy();
      broker.destroy();
    };
    client.on('error', end).on('close', end);
    broker.on('error', end).on('close', end);
    client.setNoDelay(true);
    broker.setNoDelay(true);
    const pending = new Map<number, Pending>();
    // NOTE: the proxy's own Fetch requests use negative correlation ids (kafkajs counts up from 0).
    const internal = new Map<number, (frame: Buffer | null) => void>();
    let nextInternal = -1;
    broker.on('close', () => {
      for (const waiter of internal.values()) waiter(null);
      internal.clear();
    });
    const fetchMore = (request: FetchRequest) =>
      new Promise<Buffer | null>((resolve) => {
        if (broker.destroyed) return resolve(null);
        const id = nextInternal--;
        internal.set(id, resolve);
        broker.write(writeFetchRequest(request, id));
      });
    /** The answer with the following batches appended; `final`: it has records or an error (no use waiting). */
    const fill = async (frame: Buffer, request: FetchRequest): Promise<{ frame: Buffer; final: boolean }> => {
      try {
        const first = readFetchResponse(frame, request.apiVersion);
        const partitions = first.topics.flatMap((t) => t.partitions);
        const before = partitions.map((p) => p.records?.length ?? 0);
        const failed = first.errorCode !== 0 || partitions.some((p) => p.errorCode !== 0);
        if (!before.some((n) => n > 0)) return { frame, final: failed };
        await completeFetch(request, first, async (more) => {
          const answer = await fetchMore(more);
          return answer && readFetchResponse(answer, request.apiVersion);
        });
        const after = first.topics.flatMap((t) => t.partitions).map((p) => p.records?.length ?? 0);
        if (after.every((n, i) => n === before[i])) return { frame, final: true };
        stats.filledFetches++;
        return { frame: writeFetchResponse(first, request.apiVersion), final: true };
      } catch {
        // A layout this proxy does not read: the mock's answer as it is.
        return { frame, final: true };
      }
    };
    /** A client's Fetch, long-polled: asked with MaxWait 0 until data, an error, or its MaxWait passed. */
    const longPoll = async (request: FetchRequest, correlationId: number): Promise<void> => {
      const deadline = Date.now() + request.maxWait;
      const now = { ...request, maxWait: 0 };
      for (;;) {
        const seen = produced;
        const answer = await fetchMore(now);
        if (!answer) return; // the broker connection closed, and the client's with it
        const { frame, final } = await fill(answer, request);
        if (final || Date.now() >= deadline) {
          frame.writeInt32BE(correlationId, 4);
          if (!client.destroyed) client.write(frame);
          return;
        }
        // NOTE: a Produce acknowledged while this Fetch was out may have come after the mock read the log.
        if (produced === seen) await sleep(deadline - Date.now());
      }
    };
    client.pause();
    broker.connect(Number(port), host, () => client.resume());

    // Requests: remember what each correlation id asked; hold a leader's SyncGroup when needed.
    let queue: Promise<void> = Promise.resolve();
    frames(client, (frame) => {
      const request = readRequest(frame);
      if (fillFetches && request.apiKey === API.fetch) {
        try {
          request.fetch = readFetchRequest(frame);
        } catch {
          // Not the layout expected: its answer passes unchanged.
        }
      }
      if (request.fetch) {
        const { fetch, correlationId } = request;
        queue = queue.then(() => void longPoll(fetch, correlationId));
        return;
      }
      pending.set(request.correlationId, request);
      queue = queue.then(async () => {
        if (request.apiKey === API.syncGroup && request.sync) await syncTurn(request.sync);
        if (!broker.destroyed) broker.write(frame);
      });
    });
    // Responses: rewrite broker addresses, learn generations, soften a late SyncGroup's error.
    frames(broker, (frame) => {
      const correlationId = frame.readInt32BE(4);
      const waiter = internal.get(correlationId);
      if (waiter) {
        internal.delete(correlationId);
        waiter(frame);
        return;
      }
      const request = pending.get(correlationId);
      pending.delete(correlationId);
      if (request) rewriteResponse(frame, request);
      client.write(frame);
      if (request?.apiKey === API.produce) wakeAll();
    });
  };

  /** Waits until a leader's SyncGroup may go, and notes a follower's. */
  const syncTurn = async (sync: SyncRequest): Promise<void> => {
    const current = generations.get(sync.groupId);
    if (!current || current.generation < sync.generation) {
      const seen = early.get(sync.groupId);
      if (seen?.generation === sync.generation) seen.members.add(sync.memberId);
      else early.set(sync.groupId, { generation: sync.generation, members: new Set([sync.memberId]) });
      return;
    }
    if (current.generation !== sync.generation) return;
    if (sync.memberId !== current.leader) {
      current.waiting.delete(sync.memberId);
      if (current.waiting.size === 0) current.release?.();
      return;
    }
    if (current.waiting.size === 0) return;
    stats.held++;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, holdMs);
      current.release = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    current.release = undefined;
  };

  const rewriteResponse = (frame: Buffer, request: Pending & { groupId?: string }) => {
    try {
      const r = new Reader(frame, 8); // size, correlation id
      switch (request.apiKey) {
        case API.metadata: {
          if (request.apiVersion >= 3) r.skip(4); // throttle
          const count = r.int32();
          for (let i = 0; i < count; i++) {
            r.skip(4); // node id
            r.string(); // host
            const at = r.offset;
            const port = r.int32();
            const mapped = ports.get(port);
            if (mapped !== undefined) frame.writeInt32BE(mapped, at);
            if (request.apiVersion >= 1) r.string(); // rack
          }
          return;
        }
        case API.findCoordinator: {
          if (request.apiVersion >= 1) r.skip(4);
          r.skip(2); // error code
          if (request.apiVersion >= 1) r.string(); // error message
          r.skip(4); // node id
          r.string(); // host
          const at = r.offset;
          const mapped = ports.get(r.int32());
          if (mapped !== undefined) frame.writeInt32BE(mapped, at);
          return;
        }
        case API.joinGroup: {
          if (request.apiVersion >= 2) r.skip(4);
          const error = r.int16();
          const generation = r.int32();
          r.string(); // protocol
          const leader = r.string() ?? '';
          const memberId = r.string() ?? '';
          const count = r.int32();
          if (error !== 0 || memberId !== leader || !request.groupId) return;
          const waiting = new Set<string>();
          for (let i = 0; i < count; i++) {
            const member = r.string() ?? '';
            if (request.apiVersion >= 5) r.string(); // group instance id
            r.bytes();
            if (member !== leader) waiting.add(member);
          }
          const seen = early.get(request.groupId);
          if (seen?.generation === generation) for (const member of seen.members) waiting.delete(member);
          early.delete(request.groupId);
          generations.get(request.groupId)?.release?.();
          generations.set(request.groupId, { generation, leader, waiting });
          return;
        }
        case API.syncGroup: {
          if (request.apiVersion >= 1) r.skip(4);
          const at = r.offset;
          if (r.int16() === INVALID_REQUEST) {
            frame.writeInt16BE(REBALANCE_IN_PROGRESS, at);
            stats.rewrites++;
          }
          return;
        }
      }
    } catch {
      // A layout this proxy does not know: passed through unchanged.
    }
  };

  try {
    for (let i = 0; i < upstream.length; i++) {
      const server = await listen(i);
      const port = (server.address() as { port: number }).port;
      listeners.push({ server, port, sockets: new Set() });
      ports.set(Number(upstream[i].split(':')[1]), port);
    }
  } catch (error) {
    await Promise.all(listeners.map((l) => new Promise((resolve) => l.server?.close(resolve))));
    throw error;
  }

  const closeListener = async (index: number) => {
    const entry = listeners[index];
    const server = entry.server;
    entry.server = null;
    for (const socket of entry.sockets) socket.destroy();
    entry.sockets.clear();
    if (server) await new Promise((resolve) => server.close(resolve));
  };
  const indexOf = (id: number) => {
    if (!Number.isInteger(id) || id < 1 || id > listeners.length)
      throw new Error(`no broker ${id} (brokers 1..${listeners.length})`);
    return id - 1;
  };

  return {
    brokers: listeners.map((l) => `127.0.0.1:${l.port}`),
    get rewrites() {
      return stats.rewrites;
    },
    get held() {
      return stats.held;
    },
    get filledFetches() {
      return stats.filledFetches;
    },
    get waitingFetches() {
      return sleepers.size;
    },
    down: (id) => closeListener(indexOf(id)),
    up: async (id) => {
      const index = indexOf(id);
      if (!listeners[index].server) listeners[index].server = await listen(index, listeners[index].port);
    },
    close: async () => {
      for (const generation of generations.values()) generation.release?.();
      for (const wake of [...sleepers]) wake();
      await Promise.all(listeners.map((_, i) => closeListener(i)));
    },
  };
}

interface SyncRequest {
  groupId: string;
  generation: number;
  memberId: string;
}

/** The request header, and the parts of JoinGroup and SyncGroup requests the proxy needs. */
function readRequest(frame: Buffer): Pending & { correlationId: number; sync?: SyncRequest } {
  const apiKey = frame.readInt16BE(4);
  const apiVersion = frame.readInt16BE(6);
  const correlationId = frame.readInt32BE(8);
  const request: Pending & { correlationId: number; sync?: SyncRequest } = {
    apiKey,
    apiVersion,
    correlationId,
  };
  if (apiKey !== API.joinGroup && apiKey !== API.syncGroup) return request;
  try {
    const r = new Reader(frame, 12);
    r.string(); // client id
    request.groupId = r.string() ?? undefined;
    if (apiKey === API.syncGroup && request.groupId !== undefined) {
      const generation = r.int32();
      const memberId = r.string() ?? '';
      request.sync = { groupId: request.groupId, generation, memberId };
    }
  } catch {
    // Not the layout expected: forwarded as is.
  }
  return request;
}

/** Calls `onFrame` with each complete size-prefixed frame read from `socket` (size included). */
function frames(socket: Socket, onFrame: (frame: Buffer) => void): void {
  let buffered: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    while (buffered.length >= 4) {
      const size = buffered.readInt32BE(0);
      if (buffered.length < 4 + size) break;
      onFrame(Buffer.from(buffered.subarray(0, 4 + size)));
      buffered = buffered.subarray(4 + size);
    }
  });
}
