import { createServer } from 'node:net';

/** Asks the kernel for a free loopback TCP port. The port may be taken again before use: callers retry. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Runs `start(port)` on fresh free ports until it succeeds (a port taken meanwhile is retried on another). */
export async function withFreePort<T>(start: (port: number) => Promise<T>, attempts = 5): Promise<T> {
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await start(await freePort());
    } catch (error) {
      lastError = error;
      if (!isAddressInUse(error)) throw error;
    }
  }
  throw new Error(`No free port after ${attempts} attempts: ${(lastError as Error)?.message}`);
}

export function isAddressInUse(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | undefined;
  return e?.code === 'EADDRINUSE' || /address already in use|EADDRINUSE/i.test(e?.message ?? '');
}
