import { BadRequestException } from '@nestjs/common';
import { isValidObjectId, Types } from 'mongoose';
import { isAmount, toCents } from './money';
import { ORDER_STATUSES, type OrderStatus } from './order.schema';

/** A validated POST /orders body. */
export interface CreateOrderInput {
  customerId: string;
  items: Array<{ sku: string; quantity: number; priceCents: bigint }>;
}

const MAX_ITEMS = 100;
const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  !!value && typeof value === 'object' && !Array.isArray(value);
const isId = (value: unknown): value is string =>
  typeof value === 'string' && /^[A-Za-z0-9_.:-]{1,64}$/.test(value);

/** Throws 400 with every problem found, each naming the field (`items[2].price: ...`). */
function reject(problems: string[]): never {
  throw new BadRequestException({ statusCode: 400, error: 'Bad Request', message: problems });
}

/**
 * Validates `{ customerId, items: [{ sku, quantity, price }] }`. `price` is a decimal with at most
 * two fraction digits, as a string ("12.30") or a number; `quantity` an integer from 1.
 */
export function parseCreateOrder(body: unknown): CreateOrderInput {
  if (!isPlainObject(body)) reject(['body must be a JSON object { customerId, items }']);
  const problems: string[] = [];
  const unknownKeys = Object.keys(body).filter((key) => key !== 'customerId' && key !== 'items');
  if (unknownKeys.length) problems.push(`unknown field(s): ${unknownKeys.join(', ')}`);
  if (!isId(body.customerId)) {
    problems.push('customerId must be a string of 1-64 letters, digits or _.:-');
  }
  const items: CreateOrderInput['items'] = [];
  if (!Array.isArray(body.items) || body.items.length === 0 || body.items.length > MAX_ITEMS) {
    problems.push(`items must be an array of 1 to ${MAX_ITEMS} items`);
  } else {
    body.items.forEach((item: unknown, i) => {
      const at = `items[${i}]`;
      if (!isPlainObject(item)) return problems.push(`${at} must be an object { sku, quantity, price }`);
      if (!isId(item.sku)) problems.push(`${at}.sku must be a string of 1-64 letters, digits or _.:-`);
      const { quantity, price } = item;
      const quantityOk =
        typeof quantity === 'number' && Number.isInteger(quantity) && quantity >= 1 && quantity <= 10_000;
      if (!quantityOk) problems.push(`${at}.quantity must be an integer from 1 to 10000`);
      if (!isAmount(price))
        problems.push(`${at}.price must be a decimal >= 0 with at most 2 fraction digits`);
      if (quantityOk && isAmount(price) && isId(item.sku)) {
        items.push({ sku: item.sku, quantity: quantity as number, priceCents: toCents(price) });
      }
    });
  }
  if (problems.length) reject(problems);
  return { customerId: body.customerId as string, items };
}

/** Validates `{ status }` of PATCH /orders/:id/status. */
export function parseStatusChange(body: unknown): OrderStatus {
  const status = isPlainObject(body) ? body.status : undefined;
  if (typeof status !== 'string' || !(ORDER_STATUSES as readonly string[]).includes(status)) {
    reject([`status must be one of ${ORDER_STATUSES.join(', ')}`]);
  }
  return status as OrderStatus;
}

/** Validates an order id path parameter (a 24-hex ObjectId). */
export function parseOrderId(id: string): Types.ObjectId {
  if (!/^[0-9a-f]{24}$/i.test(id) || !isValidObjectId(id))
    reject([`order id must be 24 hex characters; got "${id}"`]);
  return new Types.ObjectId(id);
}

/** Validates a customer id path parameter. */
export function parseCustomerId(id: string): string {
  if (!isId(id)) reject([`customer id must be 1-64 letters, digits or _.:-; got "${id}"`]);
  return id;
}
