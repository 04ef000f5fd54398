import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import { redactText, secretsOf } from 'nest-change-stream';
import type { ServiceEnvironment } from '../config/environment';

/**
 * Nest's console logger with credentials hidden from every line and stack it prints: the URIs in
 * them redacted, and the passwords of the service's own URLs masked wherever they appear. It sees
 * what the service cannot change at the source: MongooseModule's retry log with the driver's
 * error stack (whose parser quotes the whole URI), Nest's own start-up failures.
 */
export class RedactingConsoleLogger extends ConsoleLogger {
  private readonly secrets: string[];

  constructor(env: Pick<ServiceEnvironment, 'mongoUrl' | 'redisUrls'>) {
    super();
    this.secrets = [env.mongoUrl ?? '', ...env.redisUrls].flatMap(secretsOf);
  }

  /** `text` as this logger prints it (for messages printed without it, such as the exit reason). */
  redact(text: string): string {
    return redactText(text, this.secrets);
  }

  protected override stringifyMessage(message: unknown, logLevel: LogLevel): string {
    // NOTE: strings are redacted before they are coloured, so the colour codes never split a URI.
    if (typeof message === 'string') return super.stringifyMessage(this.redact(message), logLevel) as string;
    return this.redact(String(super.stringifyMessage(message, logLevel)));
  }

  protected override printStackTrace(stack: string): void {
    super.printStackTrace(stack && this.redact(stack));
  }
}
