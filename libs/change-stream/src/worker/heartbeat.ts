/**
 * Runs `work` while heartbeating every `intervalMs`, so a long handler or retry wait does not cost
 * the group membership. A failed heartbeat does not stop the work: it is handed back with the result.
 */
export async function whileHeartbeating<T>(
  heartbeat: () => Promise<void>,
  intervalMs: number,
  work: () => Promise<T>,
): Promise<{ result: T; heartbeatError: unknown }> {
  let heartbeatError: unknown;
  const timer = setInterval(() => {
    heartbeat().catch((error: unknown) => (heartbeatError ??= error));
  }, intervalMs);
  try {
    return { result: await work(), heartbeatError };
  } finally {
    clearInterval(timer);
  }
}
