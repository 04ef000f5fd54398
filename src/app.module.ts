import {
  Controller,
  Get,
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { getConnectionToken, MongooseModule } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { ChangeStreamModule } from 'nest-change-stream';
import { changeStreamOptions } from './config/change-stream.config';
import type { ServiceEnvironment } from './config/environment';
import type { ResolvedServers } from './config/servers';
import { SHOP_DB } from './orders/order.schema';
import { ObservabilityModule } from './observability/observability.module';
import { OrdersModule } from './orders/orders.module';

const SERVICE_INFO = Symbol('SERVICE_INFO');
const SERVERS = Symbol('SERVERS');

interface ServiceInfo {
  role: ServiceEnvironment['role'];
  embedded: ResolvedServers['embedded'];
}

@Controller()
class InfoController {
  constructor(@Inject(SERVICE_INFO) private readonly info: ServiceInfo) {}

  /** What this replica runs and which servers it uses. */
  @Get()
  get(): ServiceInfo {
    return this.info;
  }
}

/** Stops the embedded stand-ins after everything else has shut down. */
@Injectable()
class EmbeddedServersLifecycle implements OnApplicationShutdown {
  constructor(@Inject(SERVERS) private readonly servers: ResolvedServers) {}

  async onApplicationShutdown(): Promise<void> {
    await this.servers.stop();
  }
}

/**
 * The example orders service: the orders API over `shop.orders`, the change-stream relay and/or
 * the read-model workers (by APP_ROLE), health and metrics.
 */
@Module({})
export class AppModule {
  static forRoot(env: ServiceEnvironment, servers: ResolvedServers): DynamicModule {
    return {
      module: AppModule,
      imports: [
        MongooseModule.forRoot(servers.mongoUrl, { dbName: SHOP_DB }),
        ChangeStreamModule.forRootAsync({
          inject: [getConnectionToken()],
          useFactory: (connection: Connection) => changeStreamOptions(env, servers, connection),
        }),
        OrdersModule,
        ObservabilityModule.forRoot(env.role),
      ],
      controllers: [InfoController],
      providers: [
        { provide: SERVICE_INFO, useValue: { role: env.role, embedded: servers.embedded } },
        { provide: SERVERS, useValue: servers },
        EmbeddedServersLifecycle,
      ],
    };
  }
}
