import type { ClientSession } from 'mongodb';

/** The facts a {@link ChangeContext} is built from. */
export interface ChangeContextInit {
  eventId: string;
  handlerId: string;
  idempotencyKey: string;
  topic: string;
  partition: number;
  offset: string;
  epoch: number | undefined;
  attempt: number;
  maxAttempts: number;
  session: ClientSession;
  transactional: boolean;
  key: string | undefined;
  headers: Readonly<Record<string, string>>;
  /** When the worker was handed the message (see {@link ChangeContext.receivedAt}). */
  receivedAt?: Date;
}

/**
 * The second argument of every `@ChangeHandler` method: where the event came from, which attempt
 * this is, and the MongoDB session to write with.
 *
 * @example
 * async onOrder(event: InsertEvent<Order>, ctx: ChangeContext) {
 *   await this.orders.insertOne(toReadModel(event.fullDocument), { session: ctx.session });
 *   await this.mailer.send(mail, { idempotencyKey: ctx.idempotencyKey });
 * }
 */
export class ChangeContext implements ChangeContextInit {
  /** The event id (the resume token's `_data`): the same on every delivery of the event. */
  readonly eventId!: string;
  /** The handler's stable id (`@ChangeHandler({ id })`, default `<ClassName>.<methodName>`). */
  readonly handlerId!: string;
  /**
   * Stable per (handler, event) across redeliveries and replicas. Pass it to outside systems
   * (email provider, webhook receiver) so they drop repeats.
   */
  readonly idempotencyKey!: string;
  /** Kafka topic, partition and offset of the message. */
  readonly topic!: string;
  readonly partition!: number;
  readonly offset!: string;
  /** Leader epoch that published the event (undefined for messages without the epoch header). */
  readonly epoch!: number | undefined;
  /** 1 on the first attempt of this delivery, up to `maxAttempts`. */
  readonly attempt!: number;
  readonly maxAttempts!: number;
  /**
   * The MongoDB session: pass it to every read-model read and write (`{ session: ctx.session }`). In
   * a transactional handler those writes commit together with the processed-event marker, or not at
   * all. Consecutive messages may share the transaction (`worker.batchSize`): the writes made for
   * earlier messages are visible only through this session until it commits.
   */
  readonly session!: ClientSession;
  /** Whether the handler runs inside a transaction (`@ChangeHandler({ transaction })`). */
  readonly transactional!: boolean;
  /** The Kafka message key (canonical EJSON of the documentKey). */
  readonly key!: string | undefined;
  /** The Kafka message headers, as strings. */
  readonly headers!: Readonly<Record<string, string>>;
  /**
   * When the worker was handed the message's batch by its Kafka consumer: right after the fetch
   * that returned it, unless the batch waited for a free partition slot
   * (`worker.partitionConcurrency`). Undefined where no consumer fetched it (the testing kit's contexts).
   */
  readonly receivedAt?: Date;

  constructor(init: ChangeContextInit) {
    Object.assign(this, init);
    Object.freeze(this);
  }
}

/** The facts a {@link ChangeBatchContext} is built from. */
export interface ChangeBatchContextInit {
  handlerId: string;
  session: ClientSession;
  contexts: readonly ChangeContext[];
  attempt: number;
  maxAttempts: number;
  lastAttempt: boolean;
}

/**
 * The second argument of every `@ChangeBatchHandler` method: the MongoDB session of the shared
 * transaction, and the {@link ChangeContext} of each event (`contexts[i]` belongs to `events[i]`:
 * event id, idempotency key, partition, offset).
 */
export class ChangeBatchContext implements ChangeBatchContextInit {
  /** The handler's stable id. */
  readonly handlerId!: string;
  /**
   * The session of the transaction: pass it to every read and write. The writes commit together
   * with the markers of every event of the batch, or not at all.
   */
  readonly session!: ClientSession;
  /** One context per event, in the order of the events. */
  readonly contexts!: readonly ChangeContext[];
  /**
   * 1 for a call with the batch; when a batch call failed, each event is retried alone and this
   * counts the attempts of that event, up to `maxAttempts`.
   */
  readonly attempt!: number;
  readonly maxAttempts!: number;
  /** True when a failure of this call dead-letters its event (the last attempt of an event alone). */
  readonly lastAttempt!: boolean;

  constructor(init: ChangeBatchContextInit) {
    Object.assign(this, init);
    Object.freeze(this);
  }

  /** The context of an event retried alone, for the batch handler's call with that one event. */
  static single(ctx: ChangeContext): ChangeBatchContext {
    return new ChangeBatchContext({
      handlerId: ctx.handlerId,
      session: ctx.session,
      contexts: [ctx],
      attempt: ctx.attempt,
      maxAttempts: ctx.maxAttempts,
      lastAttempt: ctx.attempt >= ctx.maxAttempts,
    });
  }
}
