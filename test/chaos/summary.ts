/** The chaos run's printout: the figures, then the seed and how to replay it. */
import type { ChaosResult } from './chaos-run';
import { describeTopic } from './topic-audit';

/** The summary lines of a run (printed by `npm run chaos`, and by the spec when it fails). */
export function summary(result: ChaosResult): string[] {
  const injected = Object.entries(result.faultsInjected)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');
  const total = Object.values(result.faultsInjected).reduce((a, b) => a + b, 0);
  const w = result.writes;
  const lines = [
    '',
    `events written:    ${result.eventsWritten}${w ? ` (${w.inserted} inserts, ${w.statusChanges} status updates, ${w.deleted} deletes; ${w.transactions} transactions with ${w.transactionEvents} of them; ${w.resolvedByReading} writes with an unknown outcome resolved by reading back, ${w.appliedDespiteError} of them applied)` : ''}`,
    `faults injected:   ${total} (${injected || 'none'})`,
    ...result.faultsSkipped.map(({ kind, reason }) => `faults SKIPPED:    ${kind}: ${reason}`),
    `lost events:       ${result.lostEvents}`,
    `duplicate effects: ${result.duplicateEffects}`,
    `modes:             relay.delivery ${result.delivery ?? 'default (at-least-once)'}, worker.dedupe ${result.dedupe ?? 'default (markers)'}`,
    `topic:             ${result.topic ? describeTopic(result.topic, result.eventsWritten) : 'not read'}`,
    `longest failover:  ${result.longestFailoverMs === null ? 'n/a (no leader fault)' : `${result.longestFailoverMs} ms to a new leader on /health${result.longestTakeoverMs === null ? '' : ` (new epochs taken after at most ${result.longestTakeoverMs} ms)`}`}`,
    `processed markers: ${result.verdict?.markers ?? 'not counted (offsets dedupe, or a shared MongoDB)'}`,
    `replicas started:  ${result.replicasStarted}; writes took ${(result.writeMs / 1000).toFixed(1)} s, the whole run ${(result.totalMs / 1000).toFixed(1)} s`,
    `replica logs:      ${result.logDir}`,
  ];
  if (result.mismatchCount)
    lines.push(`mismatches:        ${result.mismatchCount}, e.g.\n  ${result.mismatches.join('\n  ')}`);
  for (const restart of result.livenessRestarts)
    lines.push(
      `liveness restart:  ${restart.replica} at +${(restart.at / 1000).toFixed(1)}s (replaced by ${restart.replacement}): ${restart.reason}`,
    );
  for (const anomaly of result.anomalies) lines.push(`anomaly:           ${anomaly}`);
  for (const problem of topicProblems(result)) lines.push(`TOPIC:             ${problem}`);
  if (result.error) lines.push(`RUN FAILED:        ${result.error}`);
  lines.push(`seed:              ${result.seed}   (replay: CHAOS_SEED=${result.seed} npm run chaos)`);
  return lines;
}

/**
 * The run's verdict: it finished, and nothing was lost, applied twice or left different; the topic
 * holds every event written, and, with exactly-once delivery, each of them once.
 */
export function passed(result: ChaosResult): boolean {
  return (
    result.completed &&
    result.lostEvents === 0 &&
    result.duplicateEffects === 0 &&
    result.mismatchCount === 0 &&
    topicProblems(result).length === 0
  );
}

/** What is wrong with the topic a read-committed consumer saw (empty: nothing). */
export function topicProblems(result: ChaosResult): string[] {
  const { topic } = result;
  if (!topic) return result.completed ? ['the topic was not read'] : [];
  const problems: string[] = [];
  if (topic.distinctEvents < result.eventsWritten)
    problems.push(`${result.eventsWritten - topic.distinctEvents} events written never reached the topic`);
  if (result.delivery === 'exactly-once' && topic.duplicateMessages > 0)
    problems.push(`${topic.duplicateMessages} duplicate messages with exactly-once delivery`);
  return problems;
}
