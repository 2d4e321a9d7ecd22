/**
 * A bounds-checked reader over a slice of a buffer, for the parts of events that are read once
 * per event (post-headers, table maps, metadata). Row values are decoded elsewhere, straight from
 * the buffer without a cursor. Reading past `end` throws {@link ShortEventError}, which the
 * decoder turns into a BinlogDecodeError that names the event.
 */
export class ByteCursor {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
  ) {}

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number): void {
    if (this.pos + n > this.end) throw new ShortEventError(n, this.end - this.pos);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  /** 6-byte little-endian unsigned (table ids); exact up to 2^48. */
  u48(): number {
    this.need(6);
    const v = this.buf.readUIntLE(this.pos, 6);
    this.pos += 6;
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  i64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  /**
   * MySQL length-encoded ("packed") integer: < 251 in one byte, 0xfc + 2 bytes, 0xfd + 3 bytes,
   * 0xfe + 8 bytes. Values above 2^53 cannot occur in the places we read them (counts, lengths).
   */
  packed(): number {
    const first = this.u8();
    if (first < 251) return first;
    if (first === 0xfc) return this.u16();
    if (first === 0xfd) {
      this.need(3);
      const v = this.buf.readUIntLE(this.pos, 3);
      this.pos += 3;
      return v;
    }
    if (first === 0xfe) return Number(this.u64());
    throw new ShortEventError(0, 0, `invalid length-encoded integer prefix 0x${first.toString(16)}`);
  }

  /** A view (no copy) of the next `n` bytes. */
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** The rest up to `end`, as a view. */
  rest(): Buffer {
    const v = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return v;
  }

  string(n: number, encoding: BufferEncoding = 'utf8'): string {
    this.need(n);
    const v = this.buf.toString(encoding, this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }
}

/** The event body ended before a field it announces; the decoder adds file and position. */
export class ShortEventError extends Error {
  constructor(wanted: number, left: number, message?: string) {
    super(message ?? `event body too short: needed ${wanted} more bytes, ${left} left`);
  }
}
