import { keyCompare, keyIn, type SqlFragment } from '../backfill/keys';
import type { CellValue } from '../binlog/types';
import { quoteMysqlIdentifier, quoteMysqlTable } from '../connectors/mysql/source';
import type { TableRef } from '../pipeline/model';
import { keyRangeCondition, type TypedKeyRange } from './key-range';

/**
 * The checksum SQL of a verification (pure). Each side computes, per row, CRC32 of a canonical
 * text of the compared columns, and per chunk COUNT(*) and SUM of those CRCs: an order-independent
 * aggregate, so the rows of several source shards add up to the one target table they merge into.
 *
 * Canonical text: the compared columns in mapping order, joined by `#`, followed by one ISNULL flag
 * per column that may be NULL on either side (CONCAT_WS skips NULLs; the flags tell NULL from ''). Character columns that are not
 * utf8mb4 are converted to utf8mb4, so a latin1 source column and a utf8mb4 target column holding the
 * same text hash alike; other values use the server's own text form (numbers, DECIMAL, dates,
 * TIMESTAMP in the session time zone, which both sides set to UTC) or their bytes (binary, BIT,
 * geometry). MySQL 9 has no MD5, hence CRC32 (docs/verification.md discusses the odds).
 */

/** A compared column as one side names and stores it. */
export interface ComparedColumn {
  /** Column name on this side (a source column for the source, the target name for the target). */
  name: string;
  /** information_schema DATA_TYPE, lower case. */
  dataType: string;
  /** information_schema CHARACTER_SET_NAME (null for non-character columns). */
  charset: string | null;
  /**
   * False when the column is NOT NULL on BOTH sides (the plan decides, so both sides agree): its
   * NULL flag is left out of the row hash. Undefined: nullable.
   */
  nullable?: boolean;
}

/** One table as one side of the comparison reads it. */
export interface SideTable {
  ref: TableRef;
  /** Compared columns, in the same order on both sides. */
  columns: ComparedColumn[];
  /** This side's names of the TARGET key columns, in target key order. */
  keyColumns: string[];
}

/** Rows a query reads: a key range (after, upTo] in target key order, or a key list; plus a condition. */
export interface RowSelection {
  after?: readonly CellValue[];
  upTo?: readonly CellValue[];
  keys?: readonly (readonly CellValue[])[];
  /** Validated SQL condition (source side only). */
  where?: string;
  /** The verification's key range (inclusive bounds in target key order), on both sides. */
  keyRange?: TypedKeyRange;
  /** Only rows whose key falls in these buckets (see bucketExpr) out of `count`. */
  buckets?: { count: number; in: readonly number[] };
}

/** The text a column's value is hashed as (see the file comment). */
export function canonicalExpr(c: ComparedColumn): string {
  const q = quoteMysqlIdentifier(c.name);
  if (c.charset && c.charset !== 'binary' && c.charset !== 'utf8mb4') return `CONVERT(${q} USING utf8mb4)`;
  return q;
}

/** CRC32 of the canonical text of a row (an unsigned 32-bit integer). */
export function rowHashExpr(columns: readonly ComparedColumn[]): string {
  if (columns.length === 0) throw new Error('a row hash needs at least one column');
  const values = columns.map(canonicalExpr).join(', ');
  const flags = columns
    .filter((c) => c.nullable !== false)
    .map((c) => `ISNULL(${quoteMysqlIdentifier(c.name)})`)
    .join(', ');
  return flags ? `CRC32(CONCAT_WS('#', ${values}, CONCAT(${flags})))` : `CRC32(CONCAT_WS('#', ${values}))`;
}

/** The hash of one column's value alone, NULL for NULL (to name the columns of a `different` row). */
export function columnHashExpr(c: ComparedColumn): string {
  return `IF(${quoteMysqlIdentifier(c.name)} IS NULL, NULL, CRC32(${canonicalExpr(c)}))`;
}

/**
 * The bucket of a row, 0 … count-1, from its key alone (CRC32 of the key's canonical text): the same
 * on both sides, so a differing chunk is narrowed to its differing buckets before any row is fetched.
 */
export function bucketExpr(t: SideTable, count: number): string {
  if (count <= 1) return '0';
  const key = t.keyColumns.map((k) => {
    const c = t.columns.find((x) => x.name === k);
    return c ? canonicalExpr(c) : quoteMysqlIdentifier(k);
  });
  return `(CRC32(CONCAT_WS('#', ${key.join(', ')})) % ${Math.max(1, Math.floor(count))})`;
}

function whereClause(t: SideTable, s: RowSelection): SqlFragment {
  const conds: string[] = [];
  const params: CellValue[] = [];
  const add = (f: SqlFragment) => {
    conds.push(f.sql);
    params.push(...f.params);
  };
  if (s.after) add(keyCompare(t.keyColumns, s.after, '>'));
  if (s.upTo) add(keyCompare(t.keyColumns, s.upTo, '<='));
  if (s.keys) add(keyIn(t.keyColumns, s.keys));
  if (s.keyRange) add(keyRangeCondition(t.keyColumns, s.keyRange));
  if (s.where) conds.push(`(${s.where})`);
  if (s.buckets)
    conds.push(
      s.buckets.in.length
        ? `${bucketExpr(t, s.buckets.count)} IN (${s.buckets.in.map((b) => Math.floor(b)).join(', ')})`
        : 'FALSE',
    );
  return { sql: conds.length ? ` WHERE ${conds.join(' AND ')}` : '', params };
}

/** `SELECT COUNT(*) AS n, SUM(hash) AS s` over the selected rows (s is '0' for none). */
export function chunkAggregateSql(t: SideTable, s: RowSelection): SqlFragment {
  const w = whereClause(t, s);
  return {
    sql: `SELECT COUNT(*) AS n, CAST(COALESCE(SUM(${rowHashExpr(t.columns)}), 0) AS CHAR) AS s FROM ${quoteMysqlTable(t.ref)}${w.sql}`,
    params: w.params,
  };
}

/**
 * `SELECT bucket AS b, COUNT(*) AS n, SUM(hash) AS s … GROUP BY b`: the aggregate per key bucket.
 * One bucket: a plain aggregate, no GROUP BY (the grouping's temporary table costs the server about
 * half as much again as hashing the rows).
 */
export function bucketAggregateSql(t: SideTable, s: RowSelection, count: number): SqlFragment {
  if (count <= 1) {
    const plain = chunkAggregateSql(t, s);
    return { sql: plain.sql.replace(/^SELECT /, 'SELECT 0 AS b, '), params: plain.params };
  }
  const w = whereClause(t, s);
  // Grouped by the expression, not its alias: a table's own column named `b` would win over the alias.
  const bucket = bucketExpr(t, count);
  return {
    sql: `SELECT ${bucket} AS b, COUNT(*) AS n, CAST(SUM(${rowHashExpr(t.columns)}) AS CHAR) AS s FROM ${quoteMysqlTable(t.ref)}${w.sql} GROUP BY ${bucket}`,
    params: w.params,
  };
}

/**
 * `SELECT key columns…, hash [, extra…]` of the selected rows, as arrays: the key first (target key
 * order), then the hash, then `extra` expressions (e.g. the columns a row filter reads).
 */
export function rowDigestSql(t: SideTable, s: RowSelection, extra: readonly string[] = []): SqlFragment {
  const w = whereClause(t, s);
  const cols = [...t.keyColumns.map(quoteMysqlIdentifier), rowHashExpr(t.columns), ...extra];
  return { sql: `SELECT ${cols.join(', ')} FROM ${quoteMysqlTable(t.ref)}${w.sql}`, params: w.params };
}

/** `SELECT key columns…, one hash per compared column` of the given keys. */
export function columnDigestSql(t: SideTable, keys: readonly (readonly CellValue[])[]): SqlFragment {
  const w = whereClause(t, { keys });
  const cols = [...t.keyColumns.map(quoteMysqlIdentifier), ...t.columns.map(columnHashExpr)];
  return { sql: `SELECT ${cols.join(', ')} FROM ${quoteMysqlTable(t.ref)}${w.sql}`, params: w.params };
}
