// A path the package does not export: it must not compile (only `.` and `./testing` are exported).
import { ChangeStreamModule } from 'nest-change-stream/dist/change-stream.module';

export const deep = ChangeStreamModule;
