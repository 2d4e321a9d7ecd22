import type mysql from 'mysql2/promise';
import { readServerBinlogState } from '../binlog/replica/server-state';
import type { BinlogPosition, CellValue, ColumnDef, RowImage } from '../binlog/types';
import { quoteMysqlIdentifier } from '../connectors/mysql/source';
import { compileFilter, type RowPredicate } from '../pipeline/mapping/filter';
import {
  bucketAggregateSql,
  bucketExpr,
  columnDigestSql,
  type RowSelection,
  rowDigestSql,
  type SideTable,
} from './checksum-sql';
import type { ChunkDigest, DigestReader, VerifySource, VerifyTarget } from './chunk-verifier';
import { keyId, type RowDigest } from './classify';
import { type CatchUpWait, waitForApplied } from './row-digests';
import type { SourceComparison } from './table-plan';

/**
 * The two sides of a verification on MySQL/MariaDB. Connections come from the caller, opened with
 * the backfill's exact reader settings (src/backfill/source-table.ts openSourceReader: UTC session,
 * READ COMMITTED, decoder-style values), so keys and filter columns look as the pipeline sees them.
 */

/** A mapping's row filter, compiled for one source table. */
interface RowFilter {
  predicate: RowPredicate;
  /** Source column names the filter reads, and their ordinals in the table. */
  names: string[];
  ordinals: number[];
  width: number;
}

function rowFilter(comparison: SourceComparison, columns: readonly ColumnDef[]): RowFilter | undefined {
  if (!comparison.filter) return undefined;
  return {
    predicate: compileFilter(comparison.filter, columns),
    names: comparison.filterColumns,
    ordinals: comparison.filterColumns.map((n) => columns.findIndex((c) => c.name === n)),
    width: columns.length,
  };
}

/** Rows of one table on one connection; with a row filter, rows are filtered here, as the mapper does. */
class TableDigests implements DigestReader {
  constructor(
    private readonly conn: mysql.Connection,
    private readonly side: SideTable,
    private readonly filter?: RowFilter,
  ) {}

  async bucketDigests(selection: RowSelection, count: number): Promise<Map<number, ChunkDigest>> {
    const out = new Map<number, ChunkDigest>();
    if (this.filter) {
      // Filtered in the worker: the bucket comes with each row.
      for (const r of await this.rowDigests(selection, bucketExpr(this.side, count))) {
        const b = Number(r.extra);
        const d = out.get(b) ?? { rows: 0, sum: '0' };
        out.set(b, { rows: d.rows + 1, sum: (BigInt(d.sum) + BigInt(r.hash)).toString() });
      }
      return out;
    }
    const q = bucketAggregateSql(this.side, selection, count);
    const [rows] = await this.conn.query<mysql.RowDataPacket[]>(q.sql, q.params);
    for (const r of rows) out.set(Number(r.b), { rows: Number(r.n), sum: String(r.s ?? '0') });
    return out;
  }

  /** Row digests; `extra`: one more expression whose value each digest carries (the bucket). */
  async rowDigests(selection: RowSelection, extra?: string): Promise<(RowDigest & { extra?: CellValue })[]> {
    if (selection.keys?.length === 0) return [];
    const f = this.filter;
    const q = rowDigestSql(this.side, selection, [
      ...(f ? f.names.map(quoteMysqlIdentifier) : []),
      ...(extra ? [extra] : []),
    ]);
    const [rows] = await this.conn.query({ sql: q.sql, rowsAsArray: true }, q.params);
    const k = this.side.keyColumns.length;
    const out: RowDigest[] = [];
    for (const raw of rows as unknown as CellValue[][]) {
      if (f) {
        const image: RowImage = new Array(f.width);
        f.ordinals.forEach((o, i) => {
          image[o] = raw[k + 1 + i] as CellValue;
        });
        if (!f.predicate(image)) continue;
      }
      const digest: RowDigest & { extra?: CellValue } = { key: raw.slice(0, k), hash: String(raw[k]) };
      if (extra) digest.extra = raw[raw.length - 1] as CellValue;
      out.push(digest);
    }
    return out;
  }

  async columnDigests(keys: readonly CellValue[][]): Promise<Map<string, CellValue[]>> {
    const out = new Map<string, CellValue[]>();
    if (keys.length === 0) return out;
    const q = columnDigestSql(this.side, keys);
    const [rows] = await this.conn.query({ sql: q.sql, rowsAsArray: true }, q.params);
    const k = this.side.keyColumns.length;
    for (const raw of rows as unknown as CellValue[][]) out.set(keyId(raw.slice(0, k)), raw.slice(k));
    return out;
  }
}

/**
 * The source side: every source table mapped into the target table (one, or the shards of a merge),
 * their aggregates added up and their rows put together.
 */
export class MysqlVerifySource implements VerifySource {
  private readonly tables: TableDigests[];

  constructor(
    private readonly conn: mysql.Connection,
    sources: readonly { comparison: SourceComparison; columns: readonly ColumnDef[] }[],
  ) {
    this.tables = sources.map(
      (s) => new TableDigests(conn, s.comparison.side, rowFilter(s.comparison, s.columns)),
    );
  }

  async bucketDigests(selection: RowSelection, count: number): Promise<Map<number, ChunkDigest>> {
    const out = new Map<number, ChunkDigest>();
    for (const t of this.tables)
      for (const [b, d] of await t.bucketDigests(selection, count)) {
        const o = out.get(b) ?? { rows: 0, sum: '0' };
        out.set(b, { rows: o.rows + d.rows, sum: (BigInt(o.sum) + BigInt(d.sum)).toString() });
      }
    return out;
  }

  async rowDigests(selection: RowSelection): Promise<RowDigest[]> {
    const out: RowDigest[] = [];
    for (const t of this.tables) out.push(...(await t.rowDigests(selection)));
    return out;
  }

  async columnDigests(keys: readonly CellValue[][]): Promise<Map<string, CellValue[]>> {
    const out = new Map<string, CellValue[]>();
    for (const t of this.tables) for (const [k, v] of await t.columnDigests(keys)) out.set(k, v);
    return out;
  }

  position(): Promise<BinlogPosition> {
    return readServerBinlogState(this.conn);
  }
}

/** The target side: one table, and the pipeline's checkpoint to wait on. */
export class MysqlVerifyTarget implements VerifyTarget {
  private readonly table: TableDigests;

  constructor(
    conn: mysql.Connection,
    side: SideTable,
    private readonly wait: CatchUpWait & { applied: () => Promise<BinlogPosition | undefined> },
  ) {
    this.table = new TableDigests(conn, side);
  }

  bucketDigests(selection: RowSelection, count: number): Promise<Map<number, ChunkDigest>> {
    return this.table.bucketDigests(selection, count);
  }

  rowDigests(selection: RowSelection): Promise<RowDigest[]> {
    return this.table.rowDigests(selection);
  }

  columnDigests(keys: readonly CellValue[][]): Promise<Map<string, CellValue[]>> {
    return this.table.columnDigests(keys);
  }

  /** Waits for the pipeline's applied position (read through `wait.applied`, never written here). */
  caughtUp(position: BinlogPosition): Promise<void> {
    return waitForApplied(this.wait.applied, position, this.wait);
  }
}
