import { Worker } from 'node:worker_threads';

/** Runs `body` in a fresh thread with the pooled Buffer.alloc, so this process's Buffer stays untouched. */
function inThread(body: string): Promise<unknown> {
  const source = `
    require(${JSON.stringify(require.resolve('@swc-node/register'))});
    const { parentPort } = require('node:worker_threads');
    const { poolSmallZeroedAllocations } = require(${JSON.stringify(require.resolve('./pooled-alloc'))});
    poolSmallZeroedAllocations();
    parentPort.postMessage((() => { ${body} })());
  `;
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true });
    worker.once('message', (value) => void worker.terminate().then(() => resolve(value)));
    worker.once('error', reject);
  });
}

describe('poolSmallZeroedAllocations', () => {
  it('gives zero-filled buffers of the size asked, from the shared pool, even after the pool held other bytes', async () => {
    const result = (await inThread(`
      Buffer.allocUnsafe(100).fill(0xff);
      const a = Buffer.alloc(512);
      const b = Buffer.alloc(512);
      b.fill(7);
      return {
        lengths: [a.length, b.length, Buffer.alloc(0).length],
        zeroed: a.every((x) => x === 0),
        independent: a.every((x) => x === 0) && b.every((x) => x === 7),
        pooled: a.buffer === b.buffer && a.buffer.byteLength > 512,
      };
    `)) as Record<string, unknown>;
    expect(result).toEqual({ lengths: [512, 512, 0], zeroed: true, independent: true, pooled: true });
  });

  it('leaves filled and large allocations to Buffer.alloc itself, and this thread untouched', async () => {
    const result = (await inThread(`
      const large = Buffer.alloc(1 << 20);
      return {
        filled: Buffer.alloc(4, 'ab').toString(),
        number: [...Buffer.alloc(3, 9)],
        large: large.length === 1 << 20 && large.buffer.byteLength === 1 << 20 && large.every((x) => x === 0),
      };
    `)) as Record<string, unknown>;
    expect(result).toEqual({ filled: 'abab', number: [9, 9, 9], large: true });
    expect(Buffer.alloc(16).buffer.byteLength).toBe(16);
  });
});
