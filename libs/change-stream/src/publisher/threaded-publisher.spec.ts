import { logLevel } from 'kafkajs';
import { packMessages } from './outgoing-message';
import { ThreadedKafkaPublisher } from './producer-thread';

describe('ThreadedKafkaPublisher.abort', () => {
  it('terminates the producer thread at once while a send is still retrying inside kafkajs', async () => {
    // Nothing listens on port 9: kafkajs keeps retrying the connection inside the thread.
    const publisher = new ThreadedKafkaPublisher({
      kafka: {
        brokers: ['127.0.0.1:9'],
        logLevel: logLevel.NOTHING,
        retry: { initialRetryTime: 100, retries: 1_000 },
      },
    });
    const message = { topic: 't', key: 'k', value: 'v', headers: {} };
    const send = publisher.send({ count: 1, parts: [packMessages([message])] });
    const outcome = send.then(
      () => 'sent',
      (error: Error) => error.message,
    );

    const started = Date.now();
    await publisher.abort();
    // The thread exited (its sockets with it): the pending send is rejected by the thread's exit.
    await expect(outcome).resolves.toMatch(/producer thread exited/);
    expect(Date.now() - started).toBeLessThan(1_000);
    // A stopped publisher starts no thread again.
    await expect(publisher.connect()).rejects.toThrow(/producer stopped/);
  });
});
