/**
 * Serves the producer thread's small zero-filled `Buffer.alloc(size)` calls from Node's buffer pool
 * (`allocUnsafe(size).fill(0)`: the same bytes, the same length) instead of a new ArrayBuffer each.
 *
 * Why: kafkajs builds every record with a fresh `Encoder`, which starts as `Buffer.alloc(512)`, one
 * for the record and one per header: seven ArrayBuffers of their own per message, each allocated,
 * zeroed, tracked and finalised by the garbage collector. Served from the pool they are slices of one
 * 8 KB block; kafkajs' sends cost about a third less CPU (bench/relay.ts, raw produce). Only for the
 * producer thread, which runs kafkajs and nothing else: its buffers never leave the thread (replies
 * carry no bytes), so no code there depends on a buffer owning its ArrayBuffer.
 */
export function poolSmallZeroedAllocations(): void {
  const alloc = Buffer.alloc;
  if ((alloc as { pooled?: boolean }).pooled) return;
  const pooled = function (size: number, fill?: string | Buffer | number, encoding?: BufferEncoding): Buffer {
    // NOTE: Node serves allocUnsafe from its pool below half the pool's size; larger ones stay as they were.
    if (fill === undefined && size < Buffer.poolSize >>> 1) return Buffer.allocUnsafe(size).fill(0);
    return alloc(size, fill, encoding);
  };
  Object.defineProperty(pooled, 'pooled', { value: true });
  Buffer.alloc = pooled as typeof Buffer.alloc;
}
