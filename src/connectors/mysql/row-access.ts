import type mysql from 'mysql2/promise';
import { keyCompare, keyIn } from '../../backfill/keys';
import type { CellValue } from '../../binlog/types';
import { type TableRef, tableKey } from '../../pipeline/model';
import type { TableInfoSource } from '../dialect';
import type { CanonicalValue, TargetRowAccess, TargetRowCodec, TargetRowsQuery } from '../target';
import { canonicalMysqlValue, fromReadBytes, mysqlRowCodec, mysqlValueClass } from './canonical';
import { type MysqlTableInfo, quoteMysqlIdentifier, quoteMysqlTable } from './dialect';

/** Keys per `IN` list: long lists are read in several statements. */
const KEYS_PER_READ = 1000;

/** Every column as its text-protocol bytes: the canonical form is built from the column's type. */
const asBytes = (field: { buffer(): Buffer | null }) => field.buffer();

/** The SELECT of a row read (pure): columns, then the range or key-list condition. */
export function mysqlRowReadSql(
  query: Omit<TargetRowsQuery, 'keys'> & { keys?: readonly (readonly CellValue[])[] },
): { sql: string; params: CellValue[] } {
  const conds: string[] = [];
  const params: CellValue[] = [];
  const add = (f: { sql: string; params: CellValue[] }) => {
    conds.push(f.sql);
    params.push(...f.params);
  };
  if (query.after) add(keyCompare(query.keyColumns, query.after, '>'));
  if (query.upTo) add(keyCompare(query.keyColumns, query.upTo, '<='));
  if (query.keys) add(keyIn(query.keyColumns, query.keys));
  const cols = query.columns.map(quoteMysqlIdentifier).join(', ');
  return {
    sql: `SELECT ${cols} FROM ${quoteMysqlTable(query.table)}${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''}`,
    params,
  };
}

/** Target rows of a MySQL/MariaDB table in canonical form (canonical.ts), on the session's connection. */
export class MysqlRowAccess implements TargetRowAccess {
  constructor(
    private readonly conn: mysql.Connection,
    private readonly tables: TableInfoSource,
  ) {}

  private async dataTypes(table: TableRef, columns: readonly string[]): Promise<string[]> {
    const info = (await this.tables.get(table)) as MysqlTableInfo;
    return columns.map((c) => {
      const t = info.columnTypes?.[c];
      if (t === undefined) throw new Error(`target table ${tableKey(table)} has no column ${c}`);
      return t;
    });
  }

  async codec(table: TableRef, columns: readonly string[]): Promise<TargetRowCodec> {
    return mysqlRowCodec(await this.dataTypes(table, columns));
  }

  async read(query: TargetRowsQuery): Promise<CanonicalValue[][]> {
    const classes = (await this.dataTypes(query.table, query.columns)).map(mysqlValueClass);
    if (query.keys?.length === 0) return [];
    const batches = query.keys
      ? Array.from({ length: Math.ceil(query.keys.length / KEYS_PER_READ) }, (_, i) =>
          query.keys?.slice(i * KEYS_PER_READ, (i + 1) * KEYS_PER_READ),
        )
      : [undefined];
    const out: CanonicalValue[][] = [];
    for (const keys of batches) {
      const q = mysqlRowReadSql({ ...query, ...(keys ? { keys } : {}) });
      const [rows] = await this.conn.query(
        { sql: q.sql, rowsAsArray: true, typeCast: asBytes as never },
        q.params,
      );
      for (const raw of rows as unknown as (Buffer | null)[][])
        out.push(classes.map((c, i) => canonicalMysqlValue(c, fromReadBytes(c, raw[i] ?? null))));
    }
    return out;
  }
}
