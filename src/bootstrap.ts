import type { INestApplication, LoggerService, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { redactText, redactUri } from 'nest-change-stream';
import { AppModule } from './app.module';
import { ORDERS_TOPIC } from './config/change-stream.config';
import type { ServiceEnvironment } from './config/environment';
import { resolveServers, type ResolvedServers } from './config/servers';

/**
 * Creates the orders service (not yet listening): resolves the servers (starting the embedded
 * stand-ins for those the environment does not name) and builds the Nest application with
 * shutdown hooks, so SIGTERM drains the relay and the workers. Stops the stand-ins again when
 * the application cannot be created; a MongoDB error then names the server (its URI redacted).
 */
export async function createOrdersApp(
  env: ServiceEnvironment,
  logger?: LoggerService | LogLevel[] | false,
): Promise<{ app: INestApplication; servers: ResolvedServers }> {
  const servers = await resolveServers(env, [ORDERS_TOPIC]);
  try {
    const app = await NestFactory.create(AppModule.forRoot(env, servers), {
      ...(logger === undefined ? {} : { logger }),
      // NOTE: a failed start throws here (instead of Nest exiting at once), so the stand-ins stop and the caller reports it.
      abortOnError: false,
    });
    app.enableShutdownHooks();
    return { app, servers };
  } catch (error) {
    await servers.stop();
    throw namingTheServer(error, servers);
  }
}

/** A MongoDB error (the driver's or mongoose's) says which server failed, without the credentials. */
function namingTheServer(error: unknown, servers: ResolvedServers): unknown {
  if (!(error instanceof Error) || !/^Mongo/.test(error.name)) return error;
  const message = `MongoDB at ${redactUri(servers.mongoUrl)}: ${error.name}: ${redactText(error.message)}`;
  return new Error(message, { cause: error });
}
