import type { CellValue } from '../binlog/types';

/**
 * Exact value identity for keys and change detection. Exact on purpose: an integer is equal whether
 * it arrives as number or bigint, bytes compare byte by byte, strings by UTF-16 code units (no
 * collation, no case folding, no trimming of trailing spaces).
 *
 * Why exact is safe for merging even when the target's collation folds case: the merger keeps at most
 * one op per EXACT key, so two keys the target considers equal ('a' and 'A') stay two ops, and the
 * plan applies them in order — the same effect as replaying the source statements one by one. A
 * folded comparison could instead merge two distinct source rows into one.
 */
export function cellEquals(a: CellValue | undefined, b: CellValue | undefined): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return false;
  const ta = typeof a;
  const tb = typeof b;
  if (ta === 'number' && tb === 'bigint') return numberEqualsBigint(a as number, b as bigint);
  if (ta === 'bigint' && tb === 'number') return numberEqualsBigint(b as number, a as bigint);
  if (ta === 'object' && tb === 'object') return (a as Buffer).equals(b as Buffer);
  if (ta === 'number' && tb === 'number') return Number.isNaN(a) && Number.isNaN(b);
  return false;
}

function numberEqualsBigint(n: number, b: bigint): boolean {
  return Number.isInteger(n) && BigInt(n) === b;
}

/**
 * One string that identifies a key tuple exactly (see cellEquals): equal tuples give equal strings
 * and different tuples different strings. Used as the Map key of the merger; never shown or parsed.
 */
export function encodeKey(values: readonly CellValue[]): string {
  if (values.length === 1) return encodeCell(values[0] as CellValue);
  let out = '';
  for (const v of values) out += encodeCell(v);
  return out;
}

function encodeCell(v: CellValue): string {
  // Each piece is self-delimiting (fixed tag + length where the content is free text), so that
  // concatenating pieces of a multi-column key cannot make two tuples collide.
  switch (typeof v) {
    case 'number':
      if (Number.isInteger(v)) {
        // Integers share the bigint spelling so that 5 and 5n are one key; -0 is 0 for an integer column.
        return Number.isSafeInteger(v) ? `i${v === 0 ? 0 : v};` : `i${BigInt(v)};`;
      }
      return `f${v};`;
    case 'bigint':
      return `i${v};`;
    case 'string':
      return `s${v.length}:${v}`;
    default:
      if (v === null) return 'n';
      return `b${v.length}:${v.toString('latin1')}`;
  }
}

/**
 * A Map key for a key tuple with the same identity as `encodeKey` (equal tuples, and only those, give
 * SameValueZero-equal keys), without building a string for the common one-column keys: integers
 * become numbers (bigints in the safe range included, so 5 and 5n are one key) or bigints beyond it,
 * other numbers stay numbers, strings stay themselves, NULL is null. Buffers (and the rare strings
 * starting with U+0000, so they cannot meet a Buffer's spelling) become tagged strings; tuples of
 * several columns are `encodeKey` strings. A merger table holds keys of one column count only.
 */
export type MergeKey = string | number | bigint | null;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export function mergeKey(values: readonly CellValue[]): MergeKey {
  if (values.length !== 1) return encodeKey(values);
  const v = values[0] as CellValue;
  switch (typeof v) {
    case 'number':
      return Number.isInteger(v) && !Number.isSafeInteger(v) ? BigInt(v) : v;
    case 'bigint':
      return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v;
    case 'string':
      return v.length > 0 && v.charCodeAt(0) === 0 ? `\u0000s${v}` : v;
    default:
      if (v === null) return null;
      return `\u0000b${v.toString('latin1')}`;
  }
}
