import { ColumnType } from '../types';

/** A column's storage type and meta once the STRING-type packing is undone. */
export interface ResolvedColumnType {
  type: number;
  /** STRING: max length in bytes; ENUM/SET: pack length in bytes; others: the meta unchanged. */
  meta: number;
}

/**
 * Undoes the packing MySQL applies to STRING columns: CHAR, ENUM and SET all travel as type STRING
 * with the real type in the meta's high byte, and CHAR lengths above 255 borrow two bits of that
 * byte (bits 4–5, inverted). Use it on every (type, meta) pair from a table map; other types pass
 * through unchanged. ENUM/SET already resolved by a caller keep working (their pack length is the
 * low byte either way).
 */
export function resolveColumnType(type: number, meta: number): ResolvedColumnType {
  if (type === ColumnType.STRING && meta >= 256) {
    const b0 = meta >> 8;
    const b1 = meta & 0xff;
    if ((b0 & 0x30) !== 0x30) {
      // CHAR longer than 255 bytes: the length's bits 8–9 are stored inverted in bits 4–5 of b0.
      return { type: b0 | 0x30, meta: b1 | (((b0 & 0x30) ^ 0x30) << 4) };
    }
    if (b0 === ColumnType.ENUM || b0 === ColumnType.SET) return { type: b0, meta: b1 };
    return { type: b0, meta: b1 };
  }
  if (type === ColumnType.ENUM || type === ColumnType.SET) return { type, meta: meta & 0xff };
  return { type, meta };
}
