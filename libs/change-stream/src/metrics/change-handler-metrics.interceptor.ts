import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { tap, type Observable } from 'rxjs';
import { ChangeBatchContext, ChangeContext } from '../consumer/change-context';
import { isMongoOutage } from '../consumer/retry-policy';
import { ChangeStreamMetrics } from './change-stream.metrics';

/**
 * Records every @ChangeHandler and @ChangeBatchHandler invocation: duration, outcome, and a dead
 * letter when the last attempt fails (a MongoDB outage does not use up attempts, so it never counts
 * as one; a failed batch call is retried event by event, so it does not either). Registered
 * globally by ChangeStreamMetricsModule; anything that is not a change handler passes through.
 */
@Injectable()
export class ChangeHandlerMetricsInterceptor implements NestInterceptor {
  constructor(private readonly metrics: ChangeStreamMetrics) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const ctx: unknown = context.getType() === 'rpc' ? context.switchToRpc().getContext() : undefined;
    if (!(ctx instanceof ChangeContext) && !(ctx instanceof ChangeBatchContext)) return next.handle();
    const handler = ctx.handlerId;
    const lastAttempt = ctx instanceof ChangeContext ? ctx.attempt >= ctx.maxAttempts : ctx.lastAttempt;
    const events = ctx instanceof ChangeContext ? 1 : ctx.contexts.length;
    const stopTimer = this.metrics.handlerDuration.startTimer({ handler });
    return next.handle().pipe(
      tap({
        complete: () => {
          stopTimer();
          this.metrics.handlerInvocations.inc({ handler, outcome: 'success' });
          this.metrics.handlerEvents.inc({ handler, outcome: 'success' }, events);
        },
        error: (error: unknown) => {
          stopTimer();
          this.metrics.handlerInvocations.inc({ handler, outcome: 'error' });
          this.metrics.handlerEvents.inc({ handler, outcome: 'error' }, events);
          if (lastAttempt && !isMongoOutage(error)) this.metrics.deadLetters.inc({ handler });
        },
      }),
    );
  }
}
