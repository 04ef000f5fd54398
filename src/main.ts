import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { parseEnvironment } from './config/environment';
import { resolveServers } from './config/servers';

async function bootstrap(): Promise<void> {
  const logger = new Logger('Main');
  const env = parseEnvironment();
  const servers = await resolveServers(env);
  const app = await NestFactory.create(AppModule.forRoot(env, servers), { bufferLogs: false });
  app.enableShutdownHooks();
  await app.listen(env.port);
  logger.log(`orders service (role ${env.role}) listening on ${await app.getUrl()}`);
}

bootstrap().catch((error: unknown) => {
  // Bad configuration and unreachable servers stop start-up with the reason.
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
