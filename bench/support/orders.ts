/**
 * The orders the benchmarks write into `shop.orders`: one order as the example service writes it, its
 * BSON size, and a writer that inserts them at a fixed rate through the MongoDB driver.
 */
import { Decimal128, MongoClient, ObjectId, type Collection } from 'mongodb';
import { calculateObjectSize } from 'bson';
import { SHOP_DB } from '../../src/orders/order.schema';

/** One order of `shop.orders` as the example service writes it (src/orders/order.schema.ts). */
export interface OrderRow {
  _id: ObjectId;
  customerId: string;
  status: 'created';
  items: Array<{ sku: string; quantity: number; price: Decimal128 }>;
  total: Decimal128;
}

/** A new order, two items; `n` spreads the customers (500 of them, so stats updates rarely conflict). */
export function newOrder(n: number, customerPrefix: string): OrderRow {
  const cents = 1_000 + (n % 9_000);
  return {
    _id: new ObjectId(),
    customerId: `${customerPrefix}${n % 500}`,
    status: 'created',
    items: [
      { sku: `sku-${n % 50}`, quantity: 1, price: Decimal128.fromString((cents / 100).toFixed(2)) },
      { sku: `sku-${(n + 7) % 50}`, quantity: 2, price: Decimal128.fromString('5.00') },
    ],
    total: Decimal128.fromString(((cents + 1_000) / 100).toFixed(2)),
  };
}

/** BSON size of one order as written. */
export const ORDER_BYTES = calculateObjectSize(newOrder(0, 'bench-customer-'));

/**
 * Inserts orders into `shop.orders` at a fixed rate: every tick (5 ms) it inserts the orders due
 * since the start with one insertMany (at 1 000/s, 5 orders: each its own oplog entry and change
 * event; one request keeps the load generator's own cost small), so a late tick catches up instead
 * of drifting. At most `maxInFlight` requests are outstanding; orders that fall due while the
 * server cannot take them are dropped from the schedule (the writer keeps its pace instead of
 * bursting after a stall), so the achieved rate (reported) falls below the target.
 */
export class OrderWriter {
  readonly written: Array<{ id: ObjectId; at: number }> = [];
  private issued = 0;
  private inFlight = 0;
  private failures = 0;
  private timer?: NodeJS.Timeout;
  private startedAt = 0;
  private stoppedAt = 0;
  private idle?: () => void;

  constructor(
    private readonly orders: Collection<OrderRow>,
    readonly ratePerSecond: number,
    private readonly customerPrefix = `bench-${Date.now().toString(36)}-`,
    private readonly maxInFlight = 50,
    private readonly tickMs = 5,
  ) {}

  static collection(client: MongoClient): Collection<OrderRow> {
    return client.db(SHOP_DB).collection<OrderRow>('orders');
  }

  start(): this {
    this.startedAt = performance.now();
    this.timer = setInterval(() => this.tick(), this.tickMs);
    return this;
  }

  /** Stops issuing and resolves once every issued insert was answered. */
  async stop(): Promise<void> {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.stoppedAt = performance.now();
    }
    if (this.inFlight > 0) await new Promise<void>((done) => (this.idle = done));
  }

  /** Orders acknowledged so far. */
  get count(): number {
    return this.written.length;
  }

  /** Orders whose insert failed. */
  get failed(): number {
    return this.failures;
  }

  /** Acknowledged orders per second between start and stop (or now). */
  achievedRate(): number {
    const end = this.timer ? performance.now() : this.stoppedAt;
    return (this.written.length / (end - this.startedAt)) * 1000;
  }

  private tick(): void {
    const due = Math.floor(((performance.now() - this.startedAt) / 1000) * this.ratePerSecond);
    if (this.issued >= due) return;
    if (this.inFlight >= this.maxInFlight) {
      this.issued = due;
      return;
    }
    const batch = Array.from({ length: due - this.issued }, () =>
      newOrder(this.issued++, this.customerPrefix),
    );
    this.inFlight++;
    const request = batch.length === 1 ? this.orders.insertOne(batch[0]) : this.orders.insertMany(batch);
    request
      .then(
        () => {
          const at = Date.now();
          for (const order of batch) this.written.push({ id: order._id, at });
        },
        () => (this.failures += batch.length),
      )
      .finally(() => {
        this.inFlight--;
        if (this.inFlight === 0 && !this.timer) this.idle?.();
      });
  }
}
