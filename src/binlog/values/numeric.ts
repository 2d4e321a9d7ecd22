/**
 * Numeric column values read straight from a row image buffer. Integers of up to 32 bits are read
 * inline by the compiled row decoder (row-image.ts); these functions cover the types that need more.
 */

/** Bytes used by a DECIMAL group of 0..9 leftover digits (MySQL's dig2bytes). */
const DIG2BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4] as const;
const ZEROS = '000000000';

/** Size in bytes of a binary DECIMAL(precision, scale) value. */
export function decimalSize(precision: number, scale: number): number {
  const intg = precision - scale;
  return (
    Math.floor(intg / 9) * 4 +
    (DIG2BYTES[intg % 9] as number) +
    Math.floor(scale / 9) * 4 +
    (DIG2BYTES[scale % 9] as number)
  );
}

/** Reads a big-endian unsigned integer of 1..4 bytes; `mask` is XORed into every byte (negative decimals). */
function readGroup(buf: Buffer, offset: number, size: number, mask: number): number {
  let v = 0;
  for (let i = 0; i < size; i++) v = v * 256 + (((buf[offset + i] as number) ^ mask) & 0xff);
  return v;
}

/**
 * Reads a binary (NEWDECIMAL) value as its exact decimal text with exactly `scale` fraction digits,
 * e.g. DECIMAL(10,4) -1/100 → "-0.0100"; DECIMAL(5,0) → "12345". Use for DECIMAL columns and
 * for DECIMAL values inside MySQL binary JSON.
 */
export function readDecimal(buf: Buffer, offset: number, precision: number, scale: number): string {
  const intg = precision - scale;
  const intg0 = Math.floor(intg / 9);
  const intg0x = intg % 9;
  const frac0 = Math.floor(scale / 9);
  const frac0x = scale % 9;
  // The sign bit is the top bit of the first byte, inverted; negative values have every byte inverted.
  const negative = ((buf[offset] as number) & 0x80) === 0;
  const mask = negative ? 0xff : 0;
  let o = offset;
  let intText = '';
  const firstSize = DIG2BYTES[intg0x] as number;
  if (firstSize > 0) {
    // The first byte carries the sign bit; clear it before reading.
    const b0 = (((buf[o] as number) ^ mask) & 0x7f) >>> 0;
    let v = b0;
    for (let i = 1; i < firstSize; i++) v = v * 256 + (((buf[o + i] as number) ^ mask) & 0xff);
    if (v !== 0) intText = String(v);
    o += firstSize;
  }
  for (let g = 0; g < intg0; g++) {
    let v: number;
    if (g === 0 && firstSize === 0) {
      v = ((((buf[o] as number) ^ mask) & 0x7f) * 0x1000000 + readGroup(buf, o + 1, 3, mask)) >>> 0;
    } else {
      v = readGroup(buf, o, 4, mask);
    }
    o += 4;
    if (intText === '') {
      if (v !== 0) intText = String(v);
    } else {
      const s = String(v);
      intText += ZEROS.slice(s.length) + s;
    }
  }
  if (intText === '') intText = '0';
  let fracText = '';
  for (let g = 0; g < frac0; g++) {
    let v: number;
    if (g === 0 && intg === 0) {
      v = ((((buf[o] as number) ^ mask) & 0x7f) * 0x1000000 + readGroup(buf, o + 1, 3, mask)) >>> 0;
    } else {
      v = readGroup(buf, o, 4, mask);
    }
    o += 4;
    const s = String(v);
    fracText += ZEROS.slice(s.length) + s;
  }
  if (frac0x > 0) {
    const size = DIG2BYTES[frac0x] as number;
    let v: number;
    if (intg === 0 && frac0 === 0) {
      v = ((buf[o] as number) ^ mask) & 0x7f;
      for (let i = 1; i < size; i++) v = v * 256 + (((buf[o + i] as number) ^ mask) & 0xff);
    } else {
      v = readGroup(buf, o, size, mask);
    }
    const s = String(v);
    fracText += ZEROS.slice(0, frac0x - s.length) + s;
  }
  let text = scale > 0 ? `${intText}.${fracText}` : intText;
  if (negative && /[1-9]/.test(text)) text = `-${text}`;
  return text;
}

/** BIT(n): the ceil(n/8) stored bytes, big-endian, as a Buffer of their own. `meta` = bytes << 8 | bits % 8. */
export function bitSize(meta: number): number {
  return (meta >> 8) + ((meta & 0xff) > 0 ? 1 : 0);
}

/** A copy of `buf[start, end)` that does not keep the event buffer alive. */
export function copyBytes(buf: Buffer, start: number, end: number): Buffer {
  return Buffer.from(buf.subarray(start, end));
}

/** YEAR: one byte, 0 stays 0 (the zero year), otherwise 1900 + byte. */
export function readYear(buf: Buffer, offset: number): number {
  const v = buf[offset] as number;
  return v === 0 ? 0 : 1900 + v;
}

/** SET bitmask → comma-joined member labels in member order (the form MySQL prints and accepts). */
export function setLabels(mask: number | bigint, labels: readonly string[]): string {
  let out = '';
  if (typeof mask === 'bigint') {
    for (let i = 0; i < labels.length && i < 64; i++) {
      if ((mask >> BigInt(i)) & 1n) out = out === '' ? (labels[i] as string) : `${out},${labels[i]}`;
    }
    return out;
  }
  for (let i = 0; i < labels.length && i < 53; i++) {
    if (Math.floor(mask / 2 ** i) % 2 === 1) out = out === '' ? (labels[i] as string) : `${out},${labels[i]}`;
  }
  return out;
}

/** ENUM index → label; index 0 is MySQL's "invalid value" entry, the empty string. */
export function enumLabel(index: number, labels: readonly string[]): string {
  if (index === 0) return '';
  const label = labels[index - 1];
  if (label === undefined) throw new Error(`ENUM index ${index} out of range (${labels.length} labels)`);
  return label;
}
