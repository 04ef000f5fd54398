/**
 * Issue 15, item 12: `change_stream_oplog_window_seconds` and `change_stream_lag_oplog_window_ratio`
 * read `local.oplog.rs` (first and last `ts` in natural order) and move as the oplog fills and as
 * its oldest entries are dropped.
 *
 * Relies on mongod's `local.oplog.rs`: a capped collection in time order whose oldest entries go
 * when it exceeds its size (the stand-in serves it from its retained oplog, see
 * tools/mongo-standin/spec/oplog-collection.int-spec.ts). The stand-in's cluster clock runs `offsetMs`
 * behind the wall clock, so the test can move cluster time forward by hundreds of seconds at once
 * while it stays in the past (a checkpoint lag is wall clock minus cluster time).
 */
import type { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { MongoClient, type Document } from 'mongodb';
import {
  ChangeStreamInspector,
  ChangeStreamMetricsModule,
  ChangeStreamModule,
  ChangeStreamStatus,
} from 'nest-change-stream';
import { Registry } from 'prom-client';
import { createChangeStreamEngine } from '../../tools/mongo-standin/change-streams';
import { startMongoStandin, type MongoStandin } from '../../tools/mongo-standin';
import { uniqueName, useGround } from '../support/ground';
import { waitFor } from '../support/wait';
import { relayOptions } from './support';

/** The stand-in's oplog size, in entries (the library's own lease and checkpoint writes count too). */
const OPLOG_ENTRIES = 1_000;
/** Writes of the truncating step: a first batch the stream reads, then one that pushes older entries out. */
const FIRST_FILL = 100;
const SECOND_FILL = OPLOG_ENTRIES - FIRST_FILL;

describe('metrics: the oplog window on the stand-in (issue 15, item 12)', () => {
  const ground = useGround({ mongo: false, kafka: true });
  let offsetMs = 2_000_000;
  let mongo: MongoStandin;
  let client: MongoClient;
  let app: INestApplicationContext | undefined;
  const registry = new Registry();

  beforeAll(async () => {
    mongo = await startMongoStandin({
      createEngine: (host) =>
        createChangeStreamEngine(host, {
          now: () => Date.now() - offsetMs,
          oplogMaxEntries: OPLOG_ENTRIES,
          noopIntervalMs: 0,
        }),
    });
    client = await new MongoClient(mongo.url, { serverSelectionTimeoutMS: 5_000 }).connect();
  });
  afterAll(async () => {
    await app?.close();
    await client?.close();
    await mongo?.stop();
  });

  /** The two gauges, as a scrape reads them. */
  const scrape = async () => {
    const window = await registry.getSingleMetric('change_stream_oplog_window_seconds')!.get();
    const ratio = await registry.getSingleMetric('change_stream_lag_oplog_window_ratio')!.get();
    return { window: window.values[0]?.value, ratio: ratio.values[0]?.value as number | undefined };
  };
  type Scrape = Awaited<ReturnType<typeof scrape>>;
  const until = (what: string, check: (s: Scrape) => boolean) =>
    waitFor(
      async () => {
        const scraped = await scrape();
        if (!check(scraped)) throw new Error(`scraped ${JSON.stringify(scraped)}`);
        return true;
      },
      { what, timeoutMs: 20_000 },
    );
  const near = (value: number | undefined, expected: number, tolerance: number) =>
    value !== undefined && Math.abs(value - expected) <= tolerance;

  it('window and lag ratio follow the oplog as it fills and truncates', async () => {
    const db = uniqueName('window');
    const options = relayOptions(ground(), { streams: [{ db, collection: 'orders' }] });
    const moduleRef = await Test.createTestingModule({
      imports: [
        ChangeStreamModule.forRoot({ ...options, mongo: { uri: mongo.url } }),
        ChangeStreamMetricsModule.forRoot({ registry }),
      ],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    app.get(ChangeStreamInspector, { strict: false }).oplogRefreshMs = 0;
    const status = app.get(ChangeStreamStatus, { strict: false });
    await waitFor(() => status.snapshot().streams[0]?.epoch, { what: 'a leader' });
    const orders = client.db(db).collection<Document>('orders');
    const published = (n: number) =>
      waitFor(() => status.snapshot().streams[0].eventsPublished >= n, {
        what: `${n} events published (${JSON.stringify(status.snapshot().streams[0])})`,
      });

    // The oplog holds entries from cluster time "now - 2000 s" on: the window is read, not NaN.
    await orders.insertOne({ step: 'a' });
    await until('a readable window', (s) => Number.isFinite(s.window));

    // Fills: cluster time moves 500 s on; the window spans it; lag (1500 s) / window (500 s) = 3.
    offsetMs = 1_500_000;
    await orders.insertOne({ step: 'b' });
    await published(2);
    await until('window ~500 s, ratio ~3', (s) => near(s.window, 500, 15) && near(s.ratio, 3, 0.15));

    // Fills on: window ~1000 s, lag ~1000 s: ratio ~1.
    offsetMs = 1_000_000;
    await orders.insertOne({ step: 'c' });
    await published(3);
    await until('window ~1000 s, ratio ~1', (s) => near(s.window, 1000, 15) && near(s.ratio, 1, 0.05));

    // Truncates: writes at the same cluster time push every older entry out. The stream reads the
    // first batch before the second arrives, so no entry it has not read is dropped (that would be
    // ChangeStreamHistoryLost, as on mongod).
    const fill = (n: number) => Array.from({ length: n }, (_, i) => ({ step: 'd', i }));
    await orders.insertMany(fill(FIRST_FILL));
    await published(3 + FIRST_FILL);
    await orders.insertMany(fill(SECOND_FILL));
    await published(3 + OPLOG_ENTRIES);
    await until('a window of seconds, a large ratio', (s) => s.window! < 10 && (s.ratio ?? 100) > 50);

    // Fills again from there: window ~100 s, lag ~900 s: ratio ~9.
    offsetMs = 900_000;
    await orders.insertOne({ step: 'e' });
    await published(4 + OPLOG_ENTRIES);
    await until('window ~100 s, ratio ~9', (s) => near(s.window, 100, 15) && near(s.ratio, 9, 1.5));
  });
});
