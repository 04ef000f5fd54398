/**
 * The producer thread's entry: a {@link KafkaPublisher} on its own kafkajs client, driven by
 * messages from {@link ThreadedKafkaPublisher}. Each request is answered with its id; errors cross
 * back as name, message, kafkajs' `retriable` flag and protocol error `type` (found on its causes).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Kafka } from 'kafkajs';
import { kafkaErrorType } from './kafka-errors';
import { KafkaPublisher } from './kafka-publisher';
import { poolSmallZeroedAllocations } from './pooled-alloc';
import { unpackJoined } from './outgoing-message';
import type { ProducerThreadData, ProducerThreadReply, ProducerThreadRequest } from './producer-thread';

poolSmallZeroedAllocations();

const data = workerData as ProducerThreadData;
const publisher = new KafkaPublisher(
  new Kafka(data.kafka),
  data.producer,
  data.compression,
  data.transactional ?? null,
);
const port = parentPort!;

port.on('message', (request: ProducerThreadRequest) => {
  void handle(request).then(
    () => port.postMessage({ id: request.id, ok: true } satisfies ProducerThreadReply),
    (error: unknown) => {
      const { name, message, retriable } = error as { name?: string; message?: string; retriable?: boolean };
      port.postMessage({
        id: request.id,
        ok: false,
        error: {
          name: name ?? 'Error',
          message: message ?? String(error),
          retriable,
          type: kafkaErrorType(error),
        },
      } satisfies ProducerThreadReply);
    },
  );
});

function handle(request: ProducerThreadRequest): Promise<void> {
  switch (request.op) {
    case 'connect':
      return publisher.connect();
    case 'fence':
      return publisher.fence();
    case 'send': {
      const messages = unpackJoined(request.packed);
      return publisher.sendMessages(messages, request.checkpoint ? messages.pop() : undefined);
    }
    case 'reset':
      return publisher.reset();
    case 'disconnect':
      return publisher.disconnect();
  }
}
