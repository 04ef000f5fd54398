import {
  Controller,
  Get,
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { ServiceEnvironment } from './config/environment';
import type { ResolvedServers } from './config/servers';

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

/** The example orders service. */
@Module({})
export class AppModule {
  static forRoot(env: ServiceEnvironment, servers: ResolvedServers): DynamicModule {
    return {
      module: AppModule,
      controllers: [InfoController],
      providers: [
        { provide: SERVICE_INFO, useValue: { role: env.role, embedded: servers.embedded } },
        { provide: SERVERS, useValue: servers },
        EmbeddedServersLifecycle,
      ],
    };
  }
}
