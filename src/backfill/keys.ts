import type { CellValue } from '../binlog/types';
import { quoteMysqlIdentifier } from '../connectors/mysql/source';

/**
 * Primary-key values as they travel outside a process: chunk boundaries in `otterflow.backfill_chunks`
 * and re-sync progress in `otterflow.resync_requests`. JSON cannot hold a bigint or a Buffer, so those
 * are tagged; everything else is plain JSON. Round trip is exact (see test/unit/backfill-keys.test.ts).
 */
type StoredCell = null | number | string | { b: string } | { x: string };

/** Key tuple → JSON text (store it; give it back to `parseKey`). */
export function stringifyKey(key: readonly CellValue[]): string {
  const cells: StoredCell[] = key.map((v) => {
    if (typeof v === 'bigint') return { b: v.toString() };
    if (Buffer.isBuffer(v)) return { x: v.toString('hex') };
    return v;
  });
  return JSON.stringify(cells);
}

/** JSON text from `stringifyKey` → key tuple. */
export function parseKey(text: string): CellValue[] {
  const cells = JSON.parse(text) as StoredCell[];
  if (!Array.isArray(cells)) throw new Error(`not a stored key: ${text.slice(0, 100)}`);
  return cells.map((c) => {
    if (c === null || typeof c === 'number' || typeof c === 'string') return c;
    if ('b' in c) return BigInt(c.b);
    return Buffer.from(c.x, 'hex');
  });
}

export interface SqlFragment {
  sql: string;
  params: CellValue[];
}

/**
 * `(k1, k2, …) > (v1, v2, …)` written as the expanded OR form, which every MySQL/MariaDB version
 * turns into an index range scan (row-constructor comparisons are not always optimized).
 * `op` '>' gives the rows after a key, '<=' the rows up to and including it.
 */
export function keyCompare(
  columns: readonly string[],
  key: readonly CellValue[],
  op: '>' | '<=',
): SqlFragment {
  if (columns.length !== key.length || columns.length === 0)
    throw new Error(`key has ${key.length} values for ${columns.length} key columns`);
  const q = columns.map(quoteMysqlIdentifier);
  if (op === '<=') {
    // NOT (key > v) — the complement keeps one expansion to test.
    const gt = keyCompare(columns, key, '>');
    return { sql: `NOT (${gt.sql})`, params: gt.params };
  }
  const ors: string[] = [];
  const params: CellValue[] = [];
  for (let i = 0; i < q.length; i++) {
    const ands: string[] = [];
    for (let j = 0; j < i; j++) {
      ands.push(`${q[j]} = ?`);
      params.push(key[j] as CellValue);
    }
    ands.push(`${q[i]} > ?`);
    params.push(key[i] as CellValue);
    ors.push(ands.length === 1 ? (ands[0] as string) : `(${ands.join(' AND ')})`);
  }
  return { sql: ors.length === 1 ? (ors[0] as string) : `(${ors.join(' OR ')})`, params };
}

/** `ORDER BY k1, k2, …` for keyset pagination. */
export function orderByKey(columns: readonly string[]): string {
  return `ORDER BY ${columns.map(quoteMysqlIdentifier).join(', ')}`;
}

/** `(k1, k2) IN ((?, ?), (?, ?), …)` for re-sync by keys. */
export function keyIn(columns: readonly string[], keys: readonly (readonly CellValue[])[]): SqlFragment {
  const q = columns.map(quoteMysqlIdentifier);
  const tuple = columns.length === 1 ? '?' : `(${columns.map(() => '?').join(', ')})`;
  const lhs = columns.length === 1 ? (q[0] as string) : `(${q.join(', ')})`;
  const params: CellValue[] = [];
  for (const k of keys) {
    if (k.length !== columns.length)
      throw new Error(`key ${stringifyKey(k)} has ${k.length} values for ${columns.length} key columns`);
    params.push(...k);
  }
  return { sql: `${lhs} IN (${keys.map(() => tuple).join(', ')})`, params };
}
