import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { ChangeStreamModuleOptions } from './interfaces/change-stream-options.interface';

/** `forRoot` / `forRootAsync` (useFactory, useClass, useExisting) with an `isGlobal` extra. */
export const {
  ConfigurableModuleClass,
  MODULE_OPTIONS_TOKEN: CHANGE_STREAM_MODULE_OPTIONS,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<ChangeStreamModuleOptions>({ moduleName: 'ChangeStream' })
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: false }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
