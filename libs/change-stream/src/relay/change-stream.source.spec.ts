import type { LoggerService } from '@nestjs/common';
import type { Document } from 'bson';
import type { ChangeStreamOptions, MongoClient } from 'mongodb';
import { resolveOptions } from '../options/resolve-options';
import { UnpublishableEventError } from '../errors/unpublishable-event.error';
import { ChangeStreamStatus } from '../health/relay-status';
import type { ChangeStreamModuleOptions, StreamOptions } from '../interfaces/change-stream-options.interface';
import { unpackBatch } from '../publisher/outgoing-message';
import { ChangeStreamSource } from './change-stream.source';
import { EMPTY_POSITION } from './checkpoint.store';
import { InFlightBuffer } from './in-flight-buffer';

const silent: LoggerService = { log: () => undefined, warn: () => undefined, error: () => undefined };

const change = (token: string, coll: string, extra: Document = {}): Document => ({
  _id: { _data: token },
  operationType: 'insert',
  ns: { db: 'shop', coll },
  documentKey: { _id: token },
  fullDocument: { _id: token, ...extra },
});

/**
 * A client whose every watch() opens a scripted stream: the first open returns `events`, one per
 * tryNext, then nothing. A second open (a reopen after a failure) aborts the run, so a test sees
 * where the source would have continued.
 */
function scriptedClient(events: Document[], abort: AbortController) {
  const opens: ChangeStreamOptions[] = [];
  const watch = (_pipeline: Document[], options: ChangeStreamOptions) => {
    opens.push(options);
    if (opens.length > 1) abort.abort();
    const queue = opens.length === 1 ? [...events] : [];
    return {
      closed: false,
      resumeToken: null,
      tryNext: async () => queue.shift() ?? new Promise((resolve) => setImmediate(() => resolve(null))),
      close: async () => undefined,
    };
  };
  const client = { db: () => ({ watch, collection: () => ({ watch }) }) } as unknown as MongoClient;
  return { client, opens };
}

function setup(
  events: Document[],
  stream: StreamOptions,
  relay: ChangeStreamModuleOptions['relay'] = {},
  maxRecordBytes = 1_000_000,
) {
  const options = resolveOptions({
    mongo: { uri: 'mongodb://h:1' },
    kafka: { brokers: ['h:1'] },
    streams: [stream],
    relay: { backoff: { initialMs: 1, maxMs: 2 }, ...relay },
  });
  const abort = new AbortController();
  const { client, opens } = scriptedClient(events, abort);
  const stats = new ChangeStreamStatus().stream('s');
  const source = new ChangeStreamSource(
    {
      client,
      stream: options.streams[0],
      options,
      epoch: 3,
      stats,
      logger: silent,
      limits: { maxBatchBytes: maxRecordBytes },
    },
    { ...EMPTY_POSITION, resumeToken: { _data: 't0' } },
  );
  const buffer = new InFlightBuffer(100, 1 << 30);
  // The reader stops once every scripted event was handed over (or a reopen aborted it).
  const run = source.run(buffer, abort.signal);
  return { run, buffer, opens, status: () => stats.snapshot(), abort };
}

/** The messages in the buffer, decoded, with the token of the position after each. */
function queued(buffer: InFlightBuffer) {
  return buffer.peek(100, Infinity).flatMap((item) =>
    item.packed
      ? unpackBatch({ count: item.count, parts: [item.packed] }).map((m) => ({
          topic: m.topic,
          value: JSON.parse(m.value.toString()) as Document,
          after: (item.position.resumeToken as { _data: string })._data,
        }))
      : [],
  );
}

const poisonTopic: StreamOptions = {
  db: 'shop',
  topic: ({ db, coll }) => {
    if (coll === 'poison') throw new Error('no topic for poison');
    return `cdc.${db}.${coll}`;
  },
};

describe('ChangeStreamSource: an event that cannot be published', () => {
  it("never moves past it: by default (onUnpublishable 'fail') the source stops, naming the event", async () => {
    const { run, buffer, opens, status, abort } = setup(
      [change('t1', 'good'), change('t2', 'poison'), change('t3', 'good')],
      poisonTopic,
    );
    const error = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    abort.abort();
    // Before the fix the source reopened after t2 (resumeAfter t2) and went on: t2 was skipped.
    expect(opens.map((o) => (o.resumeAfter as { _data: string } | undefined)?._data)).toEqual(['t0']);
    expect(error).toBeInstanceOf(UnpublishableEventError);
    expect((error as Error).message).toContain('t2');
    expect((error as Error).message).toContain('shop.poison');
    expect((error as Error).message).toContain('no topic for poison');
    expect(queued(buffer).map((m) => m.after)).toEqual(['t1']);
    expect(status().unpublishableEvents).toBe(1);
  });

  it("with onUnpublishable 'deadLetter', queues a dead-letter record at its position and goes on", async () => {
    const { run, buffer, abort } = setup(
      [change('t1', 'good'), change('t2', 'poison'), change('t3', 'good')],
      poisonTopic,
      { onUnpublishable: 'deadLetter' },
    );
    await waitUntil(() => queued(buffer).length === 3);
    abort.abort();
    await run;
    const [first, dead, last] = queued(buffer);
    expect([first.after, dead.after, last.after]).toEqual(['t1', 't2', 't3']);
    expect(dead.topic).toBe('cdc-relay.dlq');
    expect(dead.value).toMatchObject({
      eventId: 't2',
      namespace: 'shop.poison',
      documentKey: { _id: 't2' },
      stream: 'shop',
    });
    expect(dead.value.reason).toContain('no topic for poison');
  });

  it('checks topic names made at run time: a collection name Kafka refuses', async () => {
    const { run } = setup([change('t1', 'bad name')], { db: 'shop' });
    await expect(run).rejects.toThrow(/t1.*shop\.bad name.*not a valid Kafka topic name/s);
  });

  it('applies the same policy to an event over the largest record Kafka takes', async () => {
    const big = change('t1', 'orders', { blob: 'x'.repeat(5_000) });
    await expect(setup([big], { db: 'shop' }, {}, 4_000).run).rejects.toThrow(/t1.*too large/s);

    const dead = setup([big], { db: 'shop' }, { onUnpublishable: 'deadLetter' }, 4_000);
    await waitUntil(() => queued(dead.buffer).length === 1);
    dead.abort.abort();
    await dead.run;
    const [reference] = queued(dead.buffer);
    expect(reference.value).toMatchObject({ eventId: 't1', documentKey: { _id: 't1' } });
    expect(reference.value.size).toBeGreaterThan(5_000);
    expect(reference.value.fullDocument).toBeUndefined();
  });
});

async function waitUntil(check: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !check(); i++) await new Promise((resolve) => setImmediate(resolve));
  expect(check()).toBe(true);
}
