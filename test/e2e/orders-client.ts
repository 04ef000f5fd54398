/**
 * Drives the orders service over HTTP like a client would, and remembers what it did (which orders
 * exist, every status transition per customer) so the read models can be checked exactly. Used by
 * the e2e test and `npm run demo`.
 */
import { ORDER_TRANSITIONS, type OrderStatus } from '../../src/orders/order.schema';
import type { TransitionCounts } from '../../src/orders/read-model-audit';

/** An HTTP answer that was not 2xx. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    what: string,
  ) {
    super(`${what} answered ${status}: ${JSON.stringify(body)}`);
  }
}

/** A tiny JSON client of one or several replicas (round-robin). */
export class OrdersClient {
  private next = 0;

  constructor(public baseUrls: string[]) {
    if (baseUrls.length === 0) throw new Error('OrdersClient needs at least one base URL');
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const base = this.baseUrls[this.next++ % this.baseUrls.length];
    const response = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    if (!response.ok) throw new HttpError(response.status, parsed, `${method} ${path}`);
    return parsed as T;
  }
}

export { seededRandom } from '../../libs/change-stream/src/utils/seeded-random.fixtures';

/** A stream of order writes (create, move status, delete), remembering their expected effects. */
export class OrderWorkload {
  /** Live orders by id. */
  readonly orders = new Map<string, { customerId: string; status: OrderStatus }>();
  readonly transitions: TransitionCounts = {};
  readonly counts = { created: 0, statusChanges: 0, deleted: 0 };

  constructor(
    private readonly client: OrdersClient,
    private readonly random: () => number = Math.random,
    private readonly customers: { count?: number; prefix?: string } = {},
  ) {}

  /** The prefix of the customer ids this workload invents. */
  get customerPrefix(): string {
    return this.customers.prefix ?? 'customer-';
  }

  async createOrder(
    customerId = `${this.customerPrefix}${Math.floor(this.random() * (this.customers.count ?? 5))}`,
  ): Promise<string> {
    const items = Array.from({ length: 1 + Math.floor(this.random() * 3) }, (_, i) => ({
      sku: `sku-${i}-${Math.floor(this.random() * 50)}`,
      quantity: 1 + Math.floor(this.random() * 4),
      price: (Math.floor(this.random() * 10_000) / 100).toFixed(2),
    }));
    const order = await this.client.request<{ id: string }>('POST', '/orders', { customerId, items });
    this.orders.set(order.id, { customerId, status: 'created' });
    this.counts.created++;
    return order.id;
  }

  async changeStatus(id: string, status: OrderStatus): Promise<void> {
    const order = this.orders.get(id);
    if (!order) throw new Error(`unknown order ${id}`);
    await this.client.request('PATCH', `/orders/${id}/status`, { status });
    const counts = (this.transitions[order.customerId] ??= {});
    const transition = `${order.status}_to_${status}`;
    counts[transition] = (counts[transition] ?? 0) + 1;
    order.status = status;
    this.counts.statusChanges++;
  }

  async deleteOrder(id: string): Promise<void> {
    await this.client.request('DELETE', `/orders/${id}`);
    this.orders.delete(id);
    this.counts.deleted++;
  }

  /** One random write: mostly creations and status moves along the allowed transitions, some deletions. */
  async step(): Promise<void> {
    const roll = this.random();
    const ids = [...this.orders.keys()];
    const movable = ids.filter((id) => ORDER_TRANSITIONS[this.orders.get(id)!.status].length > 0);
    if (roll < 0.4 || ids.length === 0) {
      await this.createOrder();
    } else if (roll < 0.9 && movable.length > 0) {
      const id = movable[Math.floor(this.random() * movable.length)];
      const options = ORDER_TRANSITIONS[this.orders.get(id)!.status];
      await this.changeStatus(id, options[Math.floor(this.random() * options.length)]);
    } else {
      await this.deleteOrder(ids[Math.floor(this.random() * ids.length)]);
    }
  }
}
