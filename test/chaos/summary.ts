/** The chaos run's printout: the figures, then the seed and how to replay it. */
import type { ChaosResult } from './chaos-run';

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
    `longest failover:  ${result.longestFailoverMs === null ? 'n/a (no leader fault)' : `${result.longestFailoverMs} ms to a new leader on /health${result.longestTakeoverMs === null ? '' : ` (new epochs taken after at most ${result.longestTakeoverMs} ms)`}`}`,
    `processed markers: ${result.verdict?.markers ?? 'not counted (shared MongoDB)'}`,
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
  if (result.error) lines.push(`RUN FAILED:        ${result.error}`);
  lines.push(`seed:              ${result.seed}   (replay: CHAOS_SEED=${result.seed} npm run chaos)`);
  return lines;
}

/** The run's verdict: it finished, and nothing was lost, applied twice or left different. */
export function passed(result: ChaosResult): boolean {
  return (
    result.completed && result.lostEvents === 0 && result.duplicateEffects === 0 && result.mismatchCount === 0
  );
}
