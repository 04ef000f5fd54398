import type { Provider } from '@nestjs/common';
import {
  CHANGE_STREAM_KAFKA,
  CHANGE_STREAM_MONGO_CLIENT,
  CHANGE_STREAM_OPTIONS,
} from '../change-stream.constants';
import type { ResolvedChangeStreamOptions } from '../interfaces/change-stream-options.interface';
import { ChangeStreamConnections } from './change-stream-connections';

/** The connections and the two shared-client tokens (relay and worker use the same MongoClient and Kafka). */
export const connectionProviders: Provider[] = [
  {
    provide: ChangeStreamConnections,
    useFactory: (options: ResolvedChangeStreamOptions) => new ChangeStreamConnections(options),
    inject: [CHANGE_STREAM_OPTIONS],
  },
  {
    provide: CHANGE_STREAM_MONGO_CLIENT,
    useFactory: (c: ChangeStreamConnections) => c.mongo,
    inject: [ChangeStreamConnections],
  },
  {
    provide: CHANGE_STREAM_KAFKA,
    useFactory: (c: ChangeStreamConnections) => c.kafka,
    inject: [ChangeStreamConnections],
  },
];
