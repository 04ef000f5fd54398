import type { Counter } from 'prom-client';
import type { WorkerStatus } from '../worker/worker-status';
import type { MetricFactory } from './metric-factory';

const DEAD_LETTERS_HELP =
  'Messages stored in a dead-letter topic, by reason (handler-failed | undecodable | ...) and handler.';

/** The worker's counters: name, help, and the count of the worker's status each mirrors. */
const WORKER_COUNTERS: ReadonlyArray<[string, string, (c: WorkerStatus) => number]> = [
  [
    'worker_messages_total',
    'Messages every handler is done with (applied, duplicate, filtered or dead-lettered), counted once per delivery.',
    (c) => c.completedMessages,
  ],
  [
    'worker_shared_messages_total',
    'Messages whose effects committed in a shared transaction (worker.batchSize).',
    (c) => c.sharedMessages,
  ],
  [
    'worker_shared_fallbacks_total',
    'Shared transactions that failed for a reason no handler caused (write conflict, redelivery); their messages ran one transaction each.',
    (c) => c.sharedFallBacks,
  ],
  [
    'worker_restarts_total',
    'Kafka consumers recreated in the group after kafkajs gave up on one (CRASH without restart).',
    (c) => c.restarts,
  ],
];

/** The worker's metrics by `group`; returns the dead-letter counter (by `reason` and `handler`). */
export function workerMetrics(m: MetricFactory): Counter<'reason' | 'handler'> {
  for (const [name, help, pick] of WORKER_COUNTERS) m.workerCounter(name, help, pick);
  const deadLetters = m.mirror('dead_letters_total', DEAD_LETTERS_HELP, ['reason', 'handler'], (r) =>
    (r.worker?.deadLetters ?? []).map(({ reason, handler, count }) => ({
      key: `${reason}\u0000${handler}`,
      labels: { reason, handler },
      value: count,
    })),
  );
  m.gauge('worker_running', '1 while the worker runs in its group, else 0.', ['group'], (g, r) => {
    if (r.worker) g.set({ group: r.worker.groupId }, r.worker.state === 'running' ? 1 : 0);
  });
  m.gauge(
    'worker_assigned_partitions',
    'Partitions assigned to this worker at the last group join.',
    ['group'],
    (g, r) => {
      if (!r.worker) return;
      const n = Object.values(r.worker.assignment).reduce((sum, parts) => sum + parts.length, 0);
      g.set({ group: r.worker.groupId }, n);
    },
  );
  return deadLetters;
}
