/**
 * Kafka outage under load: one relay replica of the example service relays orders written at a
 * steady rate; the only Apache Kafka broker is SIGKILLed, and restarted (same port and log
 * directory) after 60 s. Samples the relay process's resident set size (VmRSS, every 250 ms)
 * before, during and after the outage, measures the time from the broker answering again until the
 * relay has published everything written before it (while the writes go on), and finally reads the
 * topic from the beginning to confirm every order written is on it.
 *
 * Killing the broker needs a broker process this part started: with KAFKA_BROKERS set, it is skipped.
 *
 *   node -r @swc-node/register bench/kafka-outage.ts
 *
 * Env: BENCH_OUTAGE_SECONDS (default 60), BENCH_OUTAGE_RATE (1000 writes/s).
 */
import 'reflect-metadata';
import { MongoClient } from 'mongodb';
import { ORDERS_TOPIC } from '../src/config/change-stream.config';
import type { Replica } from '../test/support/replicas';
import { waitFor } from '../test/support/wait';
import { startServers } from './support/servers';
import {
  LEASE_TTL_MS,
  PUBLISHED,
  logDir,
  replicaEnv,
  startCompiledReplica,
  startReady,
  stopReplicas,
} from './support/replicas';
import { ORDER_BYTES, OrderWriter } from './support/orders';
import { followTopic } from './support/topic';
import { rssOf } from './support/stats';
import { mb, perSecond, runAlone, say, since, type Log, type PartResult } from './support/report';

export interface OutageOptions {
  outageSeconds?: number;
  rate?: number;
  log?: Log;
}

export const RSS_TARGET_BYTES = 300 * 1024 * 1024;
const TITLE = 'Kafka outage under load (relay memory, catch-up)';

export async function measureKafkaOutage(options: OutageOptions = {}): Promise<PartResult> {
  const outageSeconds = options.outageSeconds ?? Number(process.env.BENCH_OUTAGE_SECONDS ?? 60);
  const rate = options.rate ?? Number(process.env.BENCH_OUTAGE_RATE ?? 1_000);
  const log = options.log ?? say;
  const started = performance.now();
  if (process.env.KAFKA_BROKERS) {
    return {
      title: TITLE,
      checks: [],
      figures: [],
      conditions: [],
      notes: [],
      skipped:
        'KAFKA_BROKERS names a cluster this benchmark did not start: this part SIGKILLs the broker process and restarts it, which it can do only to a broker it started itself.',
      seconds: 0,
    };
  }
  const servers = await startServers({ oplogMaxEntries: 1_000_000 });
  const kafka = servers.kafka!;
  const replicas: Replica[] = [];
  const client = new MongoClient(servers.mongoUrl);
  let sampler: NodeJS.Timeout | undefined;
  let writer: OrderWriter | undefined;
  let follower: { stop(): Promise<void> } | undefined;
  try {
    const dir = logDir('kafka-outage');
    log(`kafka outage: starting a relay replica; logs in ${dir}`);
    // NOTE: compiled ahead of time, as in production: a TypeScript compiler in the process (the other
    // parts' replicas run src/main.ts through @swc-node/register) adds about 100 MB of its own.
    const relay = await startReady(
      'relay',
      replicaEnv(servers, 'relay'),
      dir,
      (h) => h.details?.changeStream?.leadership === 'leader',
      { start: startCompiledReplica },
    );
    replicas.push(relay);
    await client.connect();

    type Stage = 'before' | 'outage' | 'after';
    let stage: Stage = 'before';
    const peak: Record<Stage, number> = { before: 0, outage: 0, after: 0 };
    const heap: Record<Stage, number> = { before: 0, outage: 0, after: 0 };
    let ticks = 0;
    sampler = setInterval(() => {
      const rss = rssOf(relay.pid);
      if (rss !== null) peak[stage] = Math.max(peak[stage], rss);
      // V8 heap in use (prom-client's default metric), once a second: the share of RSS that is JavaScript data.
      const at = stage;
      if (ticks++ % 4 === 0)
        void relay
          .metric('nodejs_heap_size_used_bytes')
          .then((used) => (heap[at] = Math.max(heap[at], used)));
    }, 250);

    writer = new OrderWriter(OrderWriter.collection(client), rate).start();
    await sleep(5_000);
    log(
      `kafka outage: ${writer.count} orders written at ${perSecond(rate)}; SIGKILL to the broker, restart after ${outageSeconds} s`,
    );
    const publishedBefore = await relay.metric(PUBLISHED);
    await kafka.kill(1);
    stage = 'outage';
    const downAt = performance.now();
    await sleep(outageSeconds * 1000);
    const publishedDuring = (await relay.metric(PUBLISHED)) - publishedBefore;
    const restartAt = performance.now();
    // Resolves once the broker answers Metadata again (JVM start and log recovery after the kill).
    await kafka.restart(1);
    const upAt = performance.now();
    const backlog = writer.count;
    const restartSeconds = since(restartAt);
    stage = 'after';
    log(
      `kafka outage: broker answering again ${since(downAt).toFixed(0)} s after the kill (its restart took ` +
        `${restartSeconds.toFixed(1)} s); ${backlog} orders written so far, peak RSS during the outage ${mb(peak.outage)}`,
    );
    const caughtUp = await waitFor(async () => (await relay.metric(PUBLISHED)) >= backlog, {
      timeoutMs: 180_000,
      intervalMs: 100,
      what: `the relay to publish the ${backlog} orders written before Kafka came back`,
    }).then(
      () => since(upAt),
      () => null,
    );
    log(
      `kafka outage: ${caughtUp === null ? 'not caught up within 180 s' : `caught up in ${caughtUp.toFixed(1)} s`}`,
    );
    const rateDuring = writer.achievedRate();
    await writer.stop();
    const written = writer.written.map((w) => w.id.toHexString());
    await waitFor(async () => (await relay.metric(PUBLISHED)) >= written.length, {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: 'every order published',
    }).catch(() => undefined);
    clearInterval(sampler);

    // Every order written must be on the topic (at least once): read after the fact, from the beginning.
    const onTopic = new Map<string, number>();
    follower = await followTopic(
      servers.kafkaBrokers,
      ORDERS_TOPIC.name,
      (m) => {
        const id = /"\$oid":"([0-9a-f]{24})"/.exec(m.key)?.[1];
        if (id) onTopic.set(id, (onTopic.get(id) ?? 0) + 1);
      },
      { fromBeginning: true },
    );
    await waitFor(() => written.every((id) => onTopic.has(id)), {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: 'every order on the topic',
    }).catch(() => undefined);
    const missing = written.filter((id) => !onTopic.has(id)).length;
    const duplicates = [...onTopic.values()].reduce((sum, n) => sum + n - 1, 0);
    const failures = await relay.metric('change_stream_publish_failures_total{stream="shop.orders"}');

    return {
      title: TITLE,
      checks: [
        {
          name: `peak relay RSS while Kafka is down (${outageSeconds} s, then its restart)`,
          value: mb(peak.outage),
          target: `<= ${mb(RSS_TARGET_BYTES)}`,
          pass: peak.outage > 0 && peak.outage <= RSS_TARGET_BYTES,
        },
        {
          name: 'every order written is on the topic',
          value: `${written.length - missing} of ${written.length}`,
          target: 'all',
          pass: missing === 0,
        },
      ],
      figures: [
        [
          'peak RSS before / during / after the outage',
          `${mb(peak.before)} / ${mb(peak.outage)} / ${mb(peak.after)}`,
        ],
        [
          'peak V8 heap in use before / during / after (sampled each second)',
          `${mb(heap.before)} / ${mb(heap.outage)} / ${mb(heap.after)}`,
        ],
        [
          'catch-up: broker answering again -> everything written before then published',
          caughtUp === null ? 'not within 180 s' : `${(caughtUp * 1000).toFixed(0)} ms`,
        ],
        [
          'backlog when the broker answered again',
          `${backlog} orders (${backlog - publishedBefore - publishedDuring} unpublished)`,
        ],
        ['write rate achieved', perSecond(rateDuring)],
        ['events published while the broker was down', String(publishedDuring)],
        [
          'messages on the topic / duplicates',
          `${[...onTopic.values()].reduce((a, b) => a + b, 0)} / ${duplicates}`,
        ],
        ['failed sends (retried)', String(failures)],
        ['failed writes', String(writer.failed)],
      ],
      conditions: [
        'one relay replica (APP_ROLE=relay) of the example service, its own process, compiled to JavaScript ahead of time (as `npm start` runs it; SWC, into a temporary directory)',
        `the orders topic has ${ORDERS_TOPIC.partitions} partitions; a consumer in the benchmark process reads it from the beginning once everything was published`,
        `orders written at ${perSecond(rate)} throughout (${ORDER_BYTES}-byte documents, one insertMany every 5 ms); 5 s of normal relaying first`,
        `the only broker (Apache Kafka ${kafka.version}) SIGKILLed, restarted after ${outageSeconds} s on the same port and log directory; it answered again ${restartSeconds.toFixed(1)} s later, and catch-up counts from then`,
        'relay defaults: maxInFlightEvents 5 000, maxInFlightBytes 32 MiB, backoff 100 ms..30 s',
        `RSS = VmRSS of the relay process, sampled every 250 ms; lease TTL ${LEASE_TTL_MS} ms`,
      ],
      notes: [
        ...(peak.after > RSS_TARGET_BYTES
          ? [
              `After the outage the RSS rose to ${mb(peak.after)} (V8 heap in use ${mb(heap.after)}) while the relay ` +
                `published the backlog at full batch size; the target covers the outage itself, not the catch-up.`,
            ]
          : []),
      ],
      seconds: since(started),
    };
  } finally {
    clearInterval(sampler);
    await writer?.stop();
    await follower?.stop().catch(() => undefined);
    await stopReplicas(replicas, 5_000);
    await client.close().catch(() => undefined);
    await servers.stop();
  }
}

const sleep = (msToWait: number) => new Promise((done) => setTimeout(done, msToWait));

if (require.main === module) runAlone(() => measureKafkaOutage());
