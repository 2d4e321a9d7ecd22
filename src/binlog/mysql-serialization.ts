/**
 * Readers for MySQL's serialization framework (libs/mysql/serialization), which MySQL 8.3+ uses for
 * GTID_TAGGED_LOG_EVENT and for tags in GTID sets. Integers are "varlen": 1 to 9 bytes, little
 * endian; the number of trailing one bits of the first byte plus one is the byte count, and the value
 * sits above those bits (a first byte of 0xff means the full 64-bit value follows in 8 bytes). Signed
 * integers are zigzag-encoded before that (sign in the lowest bit).
 */

export interface Varlen {
  value: bigint;
  /** Offset right after the integer. */
  next: number;
}

function trailingOnes(b: number): number {
  let n = 0;
  while (n < 8 && (b >> n) & 1) n++;
  return n;
}

/** Reads an unsigned varlen integer at `pos`; throws when it runs past `end`. */
export function readVarlenUnsigned(buf: Buffer, pos: number, end: number): Varlen {
  if (pos >= end) throw new Error('serialized integer runs past the end of the event');
  const length = trailingOnes(buf[pos]!) + 1;
  if (pos + length > end) throw new Error('serialized integer runs past the end of the event');
  if (length === 9) return { value: buf.readBigUInt64LE(pos + 1), next: pos + 9 };
  let raw = 0n;
  for (let i = length - 1; i >= 0; i--) raw = (raw << 8n) | BigInt(buf[pos + i]!);
  return { value: raw >> BigInt(length), next: pos + length };
}

/** Reads a signed (zigzag) varlen integer at `pos`. */
export function readVarlenSigned(buf: Buffer, pos: number, end: number): Varlen {
  const u = readVarlenUnsigned(buf, pos, end);
  const magnitude = u.value >> 1n;
  return { value: u.value & 1n ? -(magnitude + 1n) : magnitude, next: u.next };
}

/** Reads a serialized string: a varlen byte count, then the bytes. */
export function readSerializedString(buf: Buffer, pos: number, end: number): { value: string; next: number } {
  const len = readVarlenUnsigned(buf, pos, end);
  const start = len.next;
  const stop = start + Number(len.value);
  if (stop > end) throw new Error('serialized string runs past the end of the event');
  return { value: buf.toString('utf8', start, stop), next: stop };
}

/** Encodes an unsigned integer below 2^56 as varlen (the GTID-set tag length needs only this). */
export function encodeVarlenUnsigned(value: number): Buffer {
  let length = 1;
  while (length < 8 && value >= 2 ** (7 * length)) length++;
  if (value >= 2 ** 56) throw new Error(`value ${value} is too large for this encoder`);
  let raw = (BigInt(value) << BigInt(length)) | ((1n << BigInt(length - 1)) - 1n);
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    out[i] = Number(raw & 0xffn);
    raw >>= 8n;
  }
  return out;
}
