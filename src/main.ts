import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createOrdersApp } from './bootstrap';
import { parseEnvironment } from './config/environment';
import { RedactingConsoleLogger } from './observability/redacting.logger';

/** What the service prints through until the environment is parsed (its errors quote URIs redacted). */
let redacting = new RedactingConsoleLogger({ redisUrls: [] });

async function bootstrap(): Promise<void> {
  const env = parseEnvironment();
  // Every line from here on, the library's and the drivers' included, goes through it.
  redacting = new RedactingConsoleLogger(env);
  Logger.overrideLogger(redacting);
  const { app } = await createOrdersApp(env, redacting);
  await app.listen(env.port);
  new Logger('Main').log(`orders service (role ${env.role}) listening on ${await app.getUrl()}`);
}

bootstrap().catch((error: unknown) => {
  // Bad configuration and unreachable servers stop start-up with the reason (credentials hidden).
  console.error(redacting.redact(error instanceof Error ? error.message : String(error)));
  process.exit(1);
});
