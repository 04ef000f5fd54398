/**
 * The chaos run's writer: order changes straight through the `mongodb` driver (documents as in
 * `src/orders/order.schema.ts`, status moves along ORDER_TRANSITIONS), some inside multi-document
 * transactions, on several concurrent lanes. Each lane owns its customers and orders and draws its
 * operations from its own seeded generator, so a seed replays the same per-lane sequence.
 *
 * It survives MongoDB faults: every operation is attempted (the driver's retryable writes and
 * `withTransaction` retries first), and an error leaves an unknown outcome that is resolved by
 * reading the documents back (client-chosen `_id`s and status filters make that decisive). Only
 * writes known to be applied count: `transitions` and `written` are exactly what MongoDB holds.
 */
import { Decimal128, ObjectId, type ClientSession, type Collection, type MongoClient } from 'mongodb';
import { seededRandom } from '../e2e/orders-client';
import { ORDER_TRANSITIONS, SHOP_DB, type OrderStatus } from '../../src/orders/order.schema';
import type { TransitionCounts } from '../../src/orders/read-model-audit';

/** An order as stored in `shop.orders`. */
export interface OrderDocument {
  _id: ObjectId;
  customerId: string;
  status: OrderStatus;
  items: Array<{ sku: string; quantity: number; price: Decimal128 }>;
  total: Decimal128;
}

/** What the writer knows of one of its orders. */
interface TrackedOrder {
  customerId: string;
  status: OrderStatus;
}

/** One planned write: its change events (`events`), how to do it, and how to tell whether it happened. */
interface Operation {
  kind: 'insert' | 'update' | 'delete' | 'tx-insert' | 'tx-update';
  events: number;
  attempt(): Promise<void>;
  /** Reads MongoDB: true when the operation's effect is there (all of it: transactions are atomic). */
  applied(): Promise<boolean>;
  /** Records the effect in the writer's books (once, after it is known to be applied). */
  commit(): void;
}

export interface WriterOptions {
  seed: number;
  /** Change events to write in total. */
  changes: number;
  /** Concurrent lanes (default 4). */
  lanes?: number;
  /** Customers per lane (default 6). */
  customersPerLane?: number;
  /** Customer id prefix, unique to the run. */
  prefix: string;
  /** Give up on one operation after this long (default 120 000 ms): the run then fails. */
  operationTimeoutMs?: number;
  /** Called before an operation whose first event is at `position` (0-based) starts; may hold it. */
  gate?: (position: number) => Promise<void>;
}

/** Counts of what the writer did. */
export interface WriterCounts {
  inserted: number;
  statusChanges: number;
  deleted: number;
  /** Multi-document transactions committed, and the change events they made. */
  transactions: number;
  transactionEvents: number;
  /** Operations that failed with an unknown outcome and were resolved by reading back. */
  resolvedByReading: number;
  /** ... of which had been applied after all. */
  appliedDespiteError: number;
  /** Attempts repeated after a failure that had not been applied. */
  retries: number;
}

const INSERT_WEIGHT = 0.3;
const TX_INSERT_WEIGHT = 0.38;
const UPDATE_WEIGHT = 0.78;
const TX_UPDATE_WEIGHT = 0.88;

export class ChaosWriter {
  /** Orders that exist, by id. */
  readonly orders = new Map<string, TrackedOrder>();
  /** Deleted orders with their status when deleted. */
  readonly deleted = new Map<string, TrackedOrder>();
  readonly transitions: TransitionCounts = {};
  readonly counts: WriterCounts = {
    inserted: 0,
    statusChanges: 0,
    deleted: 0,
    transactions: 0,
    transactionEvents: 0,
    resolvedByReading: 0,
    appliedDespiteError: 0,
    retries: 0,
  };
  /** Change events known applied. */
  written = 0;
  /** The last error an operation met (for progress lines). */
  lastError: string | undefined;
  private reserved = 0;
  private readonly collection: Collection<OrderDocument>;

  constructor(
    private readonly client: MongoClient,
    private readonly options: WriterOptions,
  ) {
    this.collection = client.db(SHOP_DB).collection<OrderDocument>('orders');
  }

  get customerPrefix(): string {
    return this.options.prefix;
  }

  /** Writes `changes` change events over the lanes; resolves when all are applied. */
  async run(): Promise<void> {
    const lanes = this.options.lanes ?? 4;
    await Promise.all(Array.from({ length: lanes }, (_, lane) => this.lane(lane)));
  }

  private async lane(lane: number): Promise<void> {
    const random = seededRandom((this.options.seed * 31 + lane * 7919) >>> 0);
    const customers = Array.from(
      { length: this.options.customersPerLane ?? 6 },
      (_, n) => `${this.options.prefix}${lane}-${n}`,
    );
    const mine = new Set<string>();
    for (;;) {
      const remaining = this.options.changes - this.reserved;
      if (remaining <= 0) return;
      const operation = this.plan(random, customers, mine, remaining);
      const position = this.reserved;
      this.reserved += operation.events;
      await this.options.gate?.(position);
      await this.execute(operation);
    }
  }

  /** Picks the lane's next operation (never more events than `remaining`). */
  private plan(random: () => number, customers: string[], mine: Set<string>, remaining: number): Operation {
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
    const movable = [...mine].filter((id) => ORDER_TRANSITIONS[this.orders.get(id)!.status].length > 0);
    const roll = random();
    if (mine.size === 0 || roll < INSERT_WEIGHT || (roll < TX_INSERT_WEIGHT && remaining < 2)) {
      return this.insert(mine, [newOrder(pick(customers), random)]);
    }
    if (roll < TX_INSERT_WEIGHT) {
      const customerId = pick(customers);
      return this.insert(mine, [newOrder(customerId, random), newOrder(customerId, random)]);
    }
    if (roll < TX_UPDATE_WEIGHT && movable.length > 0) {
      let ids = [pick(movable)];
      if (roll >= UPDATE_WEIGHT) {
        // Several orders of one customer move together in one transaction.
        const customerId = this.orders.get(ids[0])!.customerId;
        const same = movable.filter((id) => this.orders.get(id)!.customerId === customerId);
        ids = same.slice(0, Math.min(remaining, 2 + Math.floor(random() * 2)));
      }
      return this.update(ids.map((id) => ({ id, to: pick(ORDER_TRANSITIONS[this.orders.get(id)!.status]) })));
    }
    return this.remove(mine, pick([...mine]));
  }

  private insert(mine: Set<string>, documents: OrderDocument[]): Operation {
    const inTransaction = documents.length > 1;
    return {
      kind: inTransaction ? 'tx-insert' : 'insert',
      events: documents.length,
      attempt: async () => {
        if (!inTransaction) {
          await this.collection.insertOne(documents[0]);
          return;
        }
        await this.transaction(async (session) => {
          for (const document of documents) await this.collection.insertOne(document, { session });
        });
      },
      applied: async () => (await this.collection.findOne({ _id: documents[0]._id })) !== null,
      commit: () => {
        for (const { _id, customerId } of documents) {
          this.orders.set(_id.toHexString(), { customerId, status: 'created' });
          mine.add(_id.toHexString());
        }
        this.counts.inserted += documents.length;
      },
    };
  }

  private update(moves: Array<{ id: string; to: OrderStatus }>): Operation {
    const steps = moves.map(({ id, to }) => ({
      _id: new ObjectId(id),
      from: this.orders.get(id)!.status,
      to,
    }));
    const inTransaction = steps.length > 1;
    const one = async (step: (typeof steps)[number], session?: ClientSession) => {
      const { matchedCount } = await this.collection.updateOne(
        { _id: step._id, status: step.from },
        { $set: { status: step.to } },
        { session },
      );
      if (matchedCount !== 1) throw new Error(`order ${step._id.toHexString()} is not ${step.from}`);
    };
    return {
      kind: inTransaction ? 'tx-update' : 'update',
      events: steps.length,
      attempt: async () => {
        if (!inTransaction) return one(steps[0]);
        await this.transaction(async (session) => {
          for (const step of steps) await one(step, session);
        });
      },
      applied: async () => (await this.collection.findOne({ _id: steps[0]._id }))?.status === steps[0].to,
      commit: () => {
        for (const { _id, from, to } of steps) {
          const order = this.orders.get(_id.toHexString())!;
          const counts = (this.transitions[order.customerId] ??= {});
          counts[`${from}_to_${to}`] = (counts[`${from}_to_${to}`] ?? 0) + 1;
          order.status = to;
        }
        this.counts.statusChanges += steps.length;
      },
    };
  }

  private remove(mine: Set<string>, id: string): Operation {
    const _id = new ObjectId(id);
    return {
      kind: 'delete',
      events: 1,
      attempt: async () => {
        const { deletedCount } = await this.collection.deleteOne({ _id });
        if (deletedCount !== 1) throw new Error(`order ${id} was not there to delete`);
      },
      applied: async () => (await this.collection.findOne({ _id })) === null,
      commit: () => {
        this.deleted.set(id, this.orders.get(id)!);
        this.orders.delete(id);
        mine.delete(id);
        this.counts.deleted++;
      },
    };
  }

  private async transaction(work: (session: ClientSession) => Promise<void>): Promise<void> {
    const session = this.client.startSession();
    try {
      await session.withTransaction(() => work(session), { writeConcern: { w: 'majority' } });
    } finally {
      await session.endSession().catch(() => undefined);
    }
  }

  /** Attempts until the operation is known applied; an error is resolved by reading back. */
  private async execute(operation: Operation): Promise<void> {
    const deadline = Date.now() + (this.options.operationTimeoutMs ?? 120_000);
    for (let attempt = 0; ; attempt++) {
      try {
        await operation.attempt();
        break;
      } catch (error) {
        this.lastError = `${operation.kind}: ${(error as Error).message}`;
        this.counts.resolvedByReading++;
        if (await this.readUntilAnswered(() => operation.applied(), deadline)) {
          this.counts.appliedDespiteError++;
          break;
        }
        if (Date.now() > deadline)
          throw new Error(`a ${operation.kind} was not applied within the deadline: ${this.lastError}`);
        this.counts.retries++;
        await pause(backoff(attempt));
      }
    }
    operation.commit();
    if (operation.kind.startsWith('tx-')) {
      this.counts.transactions++;
      this.counts.transactionEvents += operation.events;
    }
    this.written += operation.events;
  }

  /** Runs a read until it answers (MongoDB may be stepping down or dropping connections). */
  private async readUntilAnswered(read: () => Promise<boolean>, deadline: number): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await read();
      } catch (error) {
        if (Date.now() > deadline)
          throw new Error(`could not read back an operation's outcome: ${(error as Error).message}`);
        await pause(backoff(attempt));
      }
    }
  }
}

/** A new order of `customerId` with 1-3 items and their exact total. */
function newOrder(customerId: string, random: () => number): OrderDocument {
  let totalCents = 0n;
  const items = Array.from({ length: 1 + Math.floor(random() * 3) }, (_, i) => {
    const quantity = 1 + Math.floor(random() * 4);
    const cents = 1 + Math.floor(random() * 10_000);
    totalCents += BigInt(cents) * BigInt(quantity);
    return { sku: `sku-${i}-${Math.floor(random() * 50)}`, quantity, price: decimal(BigInt(cents)) };
  });
  return { _id: new ObjectId(), customerId, status: 'created', items, total: decimal(totalCents) };
}

function decimal(cents: bigint): Decimal128 {
  return Decimal128.fromString(`${cents / 100n}.${String(cents % 100n).padStart(2, '0')}`);
}

const backoff = (attempt: number) => Math.min(1_000, 50 * 2 ** attempt);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
