import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createOrdersApp } from './bootstrap';
import { parseEnvironment } from './config/environment';

async function bootstrap(): Promise<void> {
  const logger = new Logger('Main');
  const env = parseEnvironment();
  const { app } = await createOrdersApp(env);
  await app.listen(env.port);
  logger.log(`orders service (role ${env.role}) listening on ${await app.getUrl()}`);
}

bootstrap().catch((error: unknown) => {
  // Bad configuration and unreachable servers stop start-up with the reason.
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
