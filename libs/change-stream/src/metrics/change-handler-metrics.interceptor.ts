import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { tap, type Observable } from 'rxjs';
import { ChangeBatchContext, ChangeContext } from '../handlers/change-context';
import { ChangeStreamMetrics } from './change-stream.metrics';

/**
 * Records every `@ChangeHandler` and `@ChangeBatchHandler` invocation: duration and outcome. Dead letters
 * are counted where they are stored (ChangeStreamMetrics.deadLetters), undecodable ones included.
 * Registered globally by ChangeStreamMetricsModule; anything that is not a change handler passes through.
 */
@Injectable()
export class ChangeHandlerMetricsInterceptor implements NestInterceptor {
  constructor(private readonly metrics: ChangeStreamMetrics) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const ctx: unknown = context.getType() === 'rpc' ? context.switchToRpc().getContext() : undefined;
    if (!(ctx instanceof ChangeContext) && !(ctx instanceof ChangeBatchContext)) return next.handle();
    const handler = ctx.handlerId;
    const events = ctx instanceof ChangeContext ? 1 : ctx.contexts.length;
    const stopTimer = this.metrics.handlerDuration.startTimer({ handler });
    return next.handle().pipe(
      tap({
        complete: () => {
          stopTimer();
          this.metrics.handlerInvocations.inc({ handler, outcome: 'success' });
          this.metrics.handlerEvents.inc({ handler, outcome: 'success' }, events);
        },
        error: () => {
          stopTimer();
          this.metrics.handlerInvocations.inc({ handler, outcome: 'error' });
          this.metrics.handlerEvents.inc({ handler, outcome: 'error' }, events);
        },
      }),
    );
  }
}
