/**
 * `npm run dlq:redrive -- --topic cdc.shop.orders.dlq [--handler <handler id>] [--storage-database <db>]`
 *
 * Re-drives a dead-letter topic with DeadLetterRedriver: each `handler-failed` letter is published
 * back to its topic after its handler's `dead-lettered` marker is removed. This BYPASSES the marker
 * that keeps old events from being applied after newer ones: the handler applies each re-driven event
 * now, after every newer event of its document. Prints the report as JSON; exits 1 on an error.
 *
 * Env: MONGO_URL and KAFKA_BROKERS (the servers the workers use; required).
 */
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { NestFactory } from '@nestjs/core';
import { logLevel } from 'kafkajs';
import { ChangeStreamModule, DeadLetterRedriver, redactText } from 'nest-change-stream';

const USAGE =
  'usage: npm run dlq:redrive -- --topic <dead-letter topic> [--handler <handler id>] [--storage-database <db>]';

function required(name: string): string {
  const value = process.env[name]?.trim();
  if (!value) throw new Error(`${name} is not set (${USAGE}; env MONGO_URL, KAFKA_BROKERS)`);
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      topic: { type: 'string' },
      handler: { type: 'string' },
      'storage-database': { type: 'string' },
    },
  });
  if (!values.topic) throw new Error(`--topic is required (${USAGE})`);
  const brokers = required('KAFKA_BROKERS')
    .split(',')
    .map((broker) => broker.trim())
    .filter(Boolean);
  if (brokers.length === 0) throw new Error('KAFKA_BROKERS names no broker');
  const module = ChangeStreamModule.forRoot({
    relay: false,
    worker: false,
    mongo: { uri: required('MONGO_URL') },
    kafka: { brokers, clientId: 'dlq-redrive', logLevel: logLevel.WARN },
    ...(values['storage-database'] ? { storage: { database: values['storage-database'] } } : {}),
  });
  const app = await NestFactory.createApplicationContext(module, { logger: ['error', 'warn'] });
  try {
    const report = await app
      .get(DeadLetterRedriver)
      .redrive({ topic: values.topic, handlerId: values.handler });
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } finally {
    await app.close();
  }
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  // NOTE: driver errors may quote the URIs they were given: never print their credentials.
  process.stderr.write(`dlq:redrive failed: ${redactText(message)}\n`);
  process.exit(1);
});
