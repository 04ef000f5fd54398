/**
 * A consumer joining a running group whose SyncGroup reaches the coordinator after the group
 * leader's (here delayed on purpose; in practice a freshly started or busy process). librdkafka's
 * mock coordinator answers it INVALID_REQUEST and kafkajs crashes for good; behind the stand-in's
 * group-sync proxy it joins like it would on a Kafka broker.
 */
import { connect, type Socket } from 'node:net';
import { Kafka, type Consumer } from 'kafkajs';
import { waitFor } from '../../support/wait';
import { startKafkaStandin, TEST_CONSUMER_SETTINGS, TEST_KAFKA_SETTINGS, type KafkaStandin } from './harness';

const TOPIC = 'late-joiner';
const SYNC_GROUP = 14;
const FOLLOWER_SYNC_DELAY_MS = 300;

/** A socket that holds back SyncGroup requests by `delayMs` (a slow follower). */
function slowSyncSocket(delayMs: number) {
  return ({ host, port, onConnect }: { host: string; port: number; onConnect: () => void }): Socket => {
    const socket = connect({ host, port }, onConnect);
    const write = socket.write.bind(socket) as (chunk: Buffer) => boolean;
    socket.write = ((chunk: Buffer) => {
      if (Buffer.isBuffer(chunk) && chunk.length >= 6 && chunk.readInt16BE(4) === SYNC_GROUP) {
        setTimeout(() => !socket.destroyed && write(chunk), delayMs);
        return true;
      }
      return write(chunk);
    }) as Socket['write'];
    return socket;
  };
}

describe('Kafka stand-in: a member joining a running group late', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (let cleanup = cleanups.pop(); cleanup; cleanup = cleanups.pop())
      await cleanup().catch(() => undefined);
  });

  async function lateJoin(groupSyncProxy: boolean) {
    const cluster: KafkaStandin = await startKafkaStandin({
      topics: [{ name: TOPIC, partitions: 4 }],
      groupSyncProxy,
    });
    cleanups.push(() => cluster.stop());
    const groupId = `late-${groupSyncProxy ? 'proxy' : 'mock'}`;
    const member = async (name: string, slow: boolean) => {
      const kafka = new Kafka({
        ...TEST_KAFKA_SETTINGS,
        clientId: name,
        brokers: cluster.brokers,
        ...(slow ? { socketFactory: slowSyncSocket(FOLLOWER_SYNC_DELAY_MS) } : {}),
      });
      const consumer: Consumer = kafka.consumer({ ...TEST_CONSUMER_SETTINGS, groupId });
      const state = {
        partitions: -1,
        crashed: null as null | { restart: boolean; error: string },
        restarts: 0,
      };
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        state.partitions = payload.memberAssignment[TOPIC]?.length ?? 0;
      });
      // NOTE: a crash kafkajs restarts from (e.g. a rebalance that began meanwhile, under load) is
      // how a real group behaves too; only a crash it gives up on counts.
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        if (payload.restart) state.restarts++;
        else state.crashed = { restart: payload.restart, error: payload.error.message };
      });
      cleanups.push(() => consumer.disconnect());
      await consumer.connect();
      await consumer.subscribe({ topics: [TOPIC] });
      await consumer.run({ eachMessage: async () => undefined });
      return state;
    };
    const first = await member('first', false);
    await waitFor(() => first.partitions === 4, {
      timeoutMs: 30_000,
      what: 'the first member to own the topic',
    });
    const late = await member('late', true);
    await waitFor(() => late.crashed || (late.partitions > 0 && first.partitions + late.partitions === 4), {
      timeoutMs: 30_000,
      what: 'the late member to join or crash',
    });
    return { first, late };
  }

  it('without the proxy the mock coordinator fails the late follower (INVALID_REQUEST, no restart)', async () => {
    const { late } = await lateJoin(false);
    expect(late.crashed).toMatchObject({ restart: false, error: expect.stringMatching(/malformed/) });
  }, 60_000);

  it('behind the group-sync proxy the late follower gets its partitions', async () => {
    const { first, late } = await lateJoin(true);
    expect(late.crashed).toBeNull();
    expect(first.partitions + late.partitions).toBe(4);
  }, 60_000);
});
