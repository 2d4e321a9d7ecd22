/**
 * Text-protocol result rows → `LOAD DATA` file, byte by byte, without a JS value per field.
 *
 * A text-protocol row packet (COM_QUERY result) is one length-encoded string per column: a length
 * (one byte < 0xFB; 0xFC + 2 bytes; 0xFD + 3 bytes; 0xFE + 8 bytes, all little-endian) followed by
 * that many bytes, or the single byte 0xFB for NULL. The load file (src/connectors/mysql/load-data.ts,
 * `CHARACTER SET binary`, fields terminated by tab, lines by newline, escaped by backslash) takes each
 * field's bytes as they are, with `\N` for NULL and the four bytes the server's field reader would
 * take for syntax escaped: tab `\t`, newline `\n`, backslash `\\`, NUL `\0`. A field may instead be
 * written as lowercase hex (for columns the load reads through `UNHEX`: BIT and geometry).
 *
 * Pure: bytes in, bytes out. The caller decides per column what the server sends (src/connectors/mysql/backfill/raw-chunk.ts).
 */

/** The field's bytes, with tab, newline, backslash and NUL escaped. */
export const FIELD_ESCAPED = 0;
/** The field's bytes as lowercase hex (two characters per byte). */
export const FIELD_HEX = 1;
export type FieldMode = typeof FIELD_ESCAPED | typeof FIELD_HEX;

/** A row packet that does not hold exactly the expected fields (the builder is unusable afterwards). */
export class RowFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RowFormatError';
  }
}

const TAB = 9;
const NEWLINE = 10;
const BACKSLASH = 92;
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/** Escape letter of byte b (after the backslash), or 0 when b is written as it is. */
const ESCAPE = new Uint8Array(256);
ESCAPE[TAB] = 0x74; // t
ESCAPE[NEWLINE] = 0x6e; // n
ESCAPE[BACKSLASH] = BACKSLASH;
ESCAPE[0] = 0x30; // 0

const DEFAULT_BLOCK = 256 * 1024;

/**
 * Accumulates rows into a load file: call {@link addRow} for each row packet's payload, then
 * {@link finish}. The output is a list of blocks (each about `blockSize` bytes, or one row when a row
 * is larger), ready for `loadFile`.
 */
export class LoadFileBuilder {
  private readonly parts: Buffer[] = [];
  private block: Buffer;
  private pos = 0;
  private readonly n: number;
  /** Rows added so far. */
  rows = 0;
  /** Bytes of load file produced so far. */
  bytes = 0;

  constructor(
    private readonly modes: readonly FieldMode[] | Uint8Array,
    private readonly blockSize = DEFAULT_BLOCK,
  ) {
    if (modes.length === 0) throw new Error('a load file needs at least one column');
    this.n = modes.length;
    this.block = Buffer.allocUnsafe(blockSize);
  }

  /**
   * Transcodes one row: `packet[start, end)` is the row packet's payload (no 4-byte header). Throws
   * {@link RowFormatError} when it does not hold exactly one field per column.
   */
  addRow(packet: Buffer, start: number, end: number): void {
    const n = this.n;
    // Each input byte becomes at most two output bytes (escape, hex; NULL's one byte becomes `\N`),
    // plus a separator per field and the newline.
    const bound = 2 * (end - start) + n + 1;
    if (this.pos + bound > this.block.length) this.newBlock(bound);
    const out = this.block;
    const modes = this.modes;
    let o = this.pos;
    let p = start;
    for (let i = 0; i < n; i++) {
      if (i > 0) out[o++] = TAB;
      if (p >= end) throw new RowFormatError(`row packet ends before field ${i + 1} of ${n}`);
      const b = packet[p] as number;
      let len: number;
      if (b < 0xfb) {
        len = b;
        p += 1;
      } else if (b === 0xfb) {
        out[o++] = BACKSLASH;
        out[o++] = 0x4e; // N
        p += 1;
        continue;
      } else if (b === 0xfc) {
        if (p + 3 > end) throw new RowFormatError(`truncated length of field ${i + 1}`);
        len = (packet[p + 1] as number) | ((packet[p + 2] as number) << 8);
        p += 3;
      } else if (b === 0xfd) {
        if (p + 4 > end) throw new RowFormatError(`truncated length of field ${i + 1}`);
        len =
          (packet[p + 1] as number) | ((packet[p + 2] as number) << 8) | ((packet[p + 3] as number) << 16);
        p += 4;
      } else if (b === 0xfe) {
        if (p + 9 > end) throw new RowFormatError(`truncated length of field ${i + 1}`);
        len = packet.readUInt32LE(p + 1) + packet.readUInt32LE(p + 5) * 0x100000000;
        p += 9;
      } else throw new RowFormatError(`field ${i + 1}: 0xff is not a length`);
      const stop = p + len;
      if (stop > end) throw new RowFormatError(`field ${i + 1} (${len} bytes) runs past the row packet`);
      if (modes[i] === FIELD_HEX) {
        for (; p < stop; p++) {
          const c = packet[p] as number;
          out[o++] = HEX[c >> 4] as number;
          out[o++] = HEX[c & 15] as number;
        }
      } else {
        for (; p < stop; p++) {
          const c = packet[p] as number;
          const e = ESCAPE[c] as number;
          if (e === 0) out[o++] = c;
          else {
            out[o++] = BACKSLASH;
            out[o++] = e;
          }
        }
      }
    }
    if (p !== end) throw new RowFormatError(`row packet has ${end - p} bytes after the last of ${n} fields`);
    out[o++] = NEWLINE;
    this.bytes += o - this.pos;
    this.pos = o;
    this.rows++;
  }

  /** The load file: the blocks written so far (the builder must not be used afterwards). */
  finish(): Buffer[] {
    if (this.pos > 0) this.parts.push(this.block.subarray(0, this.pos));
    this.pos = 0;
    this.block = Buffer.alloc(0);
    return this.parts;
  }

  private newBlock(atLeast: number): void {
    if (this.pos > 0) this.parts.push(this.block.subarray(0, this.pos));
    this.block = Buffer.allocUnsafe(Math.max(this.blockSize, atLeast));
    this.pos = 0;
  }
}
