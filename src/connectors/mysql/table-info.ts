import type mysql from 'mysql2/promise';
import { type TableRef, tableKey } from '../../pipeline/model';
import { type TableInfoSource, TargetTableMissingError } from '../dialect';
import { type MysqlTableInfo, quoteMysqlIdentifier } from './dialect';

/** One row of `SHOW INDEX`, reduced to what key selection needs. */
export interface IndexColumnRow {
  keyName: string;
  nonUnique: boolean;
  seqInIndex: number;
  /** Null for a functional key part (MySQL 8 expression index). */
  columnName: string | null;
  nullable: boolean;
}

export interface ColumnRow {
  name: string;
  nullable: boolean;
  dataType: string;
  /** A generated (virtual or stored) column: the server computes it, a write names it only to fail. */
  generated?: boolean;
}

/**
 * Chooses how rows of a table are identified (pure): the primary key; else the first unique key
 * whose columns are all NOT NULL (a nullable unique key lets several rows hold NULL, so it
 * identifies nothing); else every column (`fullRow`). `indexRows` must be in the server's key
 * order, as SHOW INDEX returns it (the order MySQL itself uses to pick an implicit primary key).
 */
export function chooseTableInfo(
  ref: TableRef,
  columns: ColumnRow[],
  indexRows: IndexColumnRow[],
): MysqlTableInfo {
  const keys = new Map<string, IndexColumnRow[]>();
  for (const r of indexRows) {
    if (r.nonUnique) continue;
    let parts = keys.get(r.keyName);
    if (!parts) {
      parts = [];
      keys.set(r.keyName, parts);
    }
    parts.push(r);
  }
  const notNull = new Map(columns.map((c) => [c.name, !c.nullable]));
  const usable = (parts: IndexColumnRow[]) =>
    parts.every((p) => p.columnName !== null && notNull.get(p.columnName) === true && !p.nullable);
  const columnsOf = (parts: IndexColumnRow[]) =>
    [...parts].sort((a, b) => a.seqInIndex - b.seqInIndex).map((p) => p.columnName as string);

  const generated = columns.filter((c) => c.generated).map((c) => c.name);
  const base = {
    ref,
    columns: columns.map((c) => c.name),
    columnTypes: Object.fromEntries(columns.map((c) => [c.name, c.dataType.toLowerCase()])),
    ...(generated.length > 0 ? { generatedColumns: generated } : {}),
  };
  // Any unique key besides the chosen one (nullable ones too: non-NULL values still collide).
  const others = (chosen: string) => [...keys.keys()].some((k) => k !== chosen);
  const primary = keys.get('PRIMARY');
  if (primary && usable(primary))
    return {
      ...base,
      keyColumns: columnsOf(primary),
      keyKind: 'primary',
      otherUniqueKeys: others('PRIMARY'),
    };
  for (const [name, parts] of keys) {
    if (name !== 'PRIMARY' && usable(parts))
      return { ...base, keyColumns: columnsOf(parts), keyKind: 'unique', otherUniqueKeys: others(name) };
  }
  return { ...base, keyColumns: [...base.columns], keyKind: 'fullRow' };
}

/** Reads one table's columns and unique keys from the server. */
export async function readTableInfo(conn: mysql.Connection, ref: TableRef): Promise<MysqlTableInfo> {
  const [cols] = await conn.query<mysql.RowDataPacket[]>(
    // EXTRA says "VIRTUAL GENERATED" / "STORED GENERATED" on MySQL 5.7+ and MariaDB 10.2+ alike.
    "SELECT COLUMN_NAME AS name, IS_NULLABLE AS nullable, DATA_TYPE AS dataType, EXTRA LIKE '%GENERATED%' AS isGenerated FROM information_schema.COLUMNS " +
      'WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [ref.schema, ref.table],
  );
  if (cols.length === 0) throw new TargetTableMissingError(ref);
  const columns: ColumnRow[] = cols.map((r) => ({
    name: String(r.name),
    nullable: String(r.nullable) === 'YES',
    dataType: String(r.dataType),
    generated: Number(r.isGenerated) === 1,
  }));
  // SHOW INDEX lists keys in the server's own key order; information_schema.STATISTICS promises no order.
  const [idx] = await conn.query<mysql.RowDataPacket[]>(
    `SHOW INDEX FROM ${quoteMysqlIdentifier(ref.table)} FROM ${quoteMysqlIdentifier(ref.schema)}`,
  );
  const indexRows: IndexColumnRow[] = idx.map((r) => ({
    keyName: String(r.Key_name),
    nonUnique: Number(r.Non_unique) !== 0,
    seqInIndex: Number(r.Seq_in_index),
    columnName: r.Column_name === null || r.Column_name === undefined ? null : String(r.Column_name),
    nullable: String(r.Null ?? '') === 'YES',
  }));
  return chooseTableInfo(ref, columns, indexRows);
}

/**
 * Cached {@link readTableInfo} for one target connection. Call `invalidate(table)` after DDL on
 * that table (or `invalidate()` after anything schema-wide) so the next apply reads it again.
 */
export class MysqlTableInfoCache implements TableInfoSource {
  private readonly cache = new Map<string, Promise<MysqlTableInfo>>();

  constructor(private readonly conn: mysql.Connection) {}

  get(ref: TableRef): Promise<MysqlTableInfo> {
    const k = tableKey(ref);
    let p = this.cache.get(k);
    if (!p) {
      p = readTableInfo(this.conn, ref);
      this.cache.set(k, p);
      // A failed read (missing table, lost connection) is not remembered.
      p.catch(() => {
        if (this.cache.get(k) === p) this.cache.delete(k);
      });
    }
    return p;
  }

  invalidate(ref?: TableRef): void {
    if (ref) this.cache.delete(tableKey(ref));
    else this.cache.clear();
  }
}
