import type { INestApplication, LoggerService, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { ORDERS_TOPIC } from './config/change-stream.config';
import type { ServiceEnvironment } from './config/environment';
import { resolveServers, type ResolvedServers } from './config/servers';

/**
 * Creates the orders service (not yet listening): resolves the servers (starting the embedded
 * stand-ins for those the environment does not name) and builds the Nest application with
 * shutdown hooks, so SIGTERM drains the listener and the workers. Stops the stand-ins again when
 * the application cannot be created.
 */
export async function createOrdersApp(
  env: ServiceEnvironment,
  logger?: LoggerService | LogLevel[] | false,
): Promise<{ app: INestApplication; servers: ResolvedServers }> {
  const servers = await resolveServers(env, [ORDERS_TOPIC]);
  try {
    const app = await NestFactory.create(AppModule.forRoot(env, servers), {
      ...(logger === undefined ? {} : { logger }),
    });
    app.enableShutdownHooks();
    return { app, servers };
  } catch (error) {
    await servers.stop();
    throw error;
  }
}
