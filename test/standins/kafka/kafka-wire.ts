/** Big-endian Kafka protocol primitives (non-flexible versions), for the stand-in's proxy. */

/** Reads big-endian Kafka primitives (non-flexible versions). */
export class Reader {
  constructor(
    private readonly buffer: Buffer,
    public offset: number,
  ) {}

  skip(n: number): void {
    this.offset += n;
    if (this.offset > this.buffer.length) throw new RangeError('past the end');
  }

  int8(): number {
    const value = this.buffer.readInt8(this.offset);
    this.offset += 1;
    return value;
  }

  int16(): number {
    const value = this.buffer.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  int32(): number {
    const value = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  int64(): bigint {
    const value = this.buffer.readBigInt64BE(this.offset);
    this.offset += 8;
    return value;
  }

  string(): string | null {
    const length = this.int16();
    if (length < 0) return null;
    const value = this.buffer.toString('utf8', this.offset, this.offset + length);
    this.skip(length);
    return value;
  }

  bytes(): Buffer | null {
    const length = this.int32();
    if (length < 0) return null;
    const value = this.buffer.subarray(this.offset, this.offset + length);
    this.skip(length);
    return value;
  }
}

/** Writes big-endian Kafka primitives into a size-prefixed frame. */
export class Writer {
  private readonly chunks: Buffer[] = [];

  private push(size: number, write: (b: Buffer) => void): this {
    const b = Buffer.allocUnsafe(size);
    write(b);
    this.chunks.push(b);
    return this;
  }

  int8(v: number): this {
    return this.push(1, (b) => b.writeInt8(v));
  }

  int16(v: number): this {
    return this.push(2, (b) => b.writeInt16BE(v));
  }

  int32(v: number): this {
    return this.push(4, (b) => b.writeInt32BE(v));
  }

  int64(v: bigint): this {
    return this.push(8, (b) => b.writeBigInt64BE(v));
  }

  string(v: string | null): this {
    if (v === null) return this.int16(-1);
    const bytes = Buffer.from(v, 'utf8');
    return this.int16(bytes.length).raw(bytes);
  }

  bytes(v: Buffer | null): this {
    if (v === null) return this.int32(-1);
    return this.int32(v.length).raw(v);
  }

  raw(v: Buffer): this {
    this.chunks.push(v);
    return this;
  }

  frame(): Buffer {
    const body = Buffer.concat(this.chunks);
    const size = Buffer.allocUnsafe(4);
    size.writeInt32BE(body.length);
    return Buffer.concat([size, body]);
  }
}
