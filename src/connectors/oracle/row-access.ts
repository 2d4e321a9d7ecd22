import oracledb from 'oracledb';
import type { CellValue } from '../../binlog/types';
import { type TableRef, tableKey } from '../../pipeline/model';
import type { TableInfoSource } from '../dialect';
import type { CanonicalValue, TargetRowAccess, TargetRowCodec, TargetRowsQuery } from '../target';
import { canonicalOracleValue, type OracleValueClass, oracleRowCodec, oracleValueClass } from './canonical';
import type { OracleConnectionLike } from './connection';
import { type OracleTableInfo, oracleName, quoteOracleIdentifier } from './dialect';
import { columnBinding, type OracleValueOptions, ValueTally } from './values';

/** Keys per read: Oracle takes at most 1000 expressions in an IN list and 65,535 binds. */
const KEYS_PER_READ = 500;

export interface OracleRowReadOptions extends OracleValueOptions {
  identifierCase?: 'upper' | 'exact';
}

const TIMESTAMP_TEXT = "'YYYY-MM-DD HH24:MI:SS.FF6'";

/** The select-list expression that reads column `q` (quoted) of class `c` in the form canonical.ts expects. */
export function oracleReadExpr(c: OracleValueClass, q: string): string {
  switch (c) {
    case 'number':
      return `TO_CHAR(${q}, 'TM9')`;
    case 'date':
      return `TO_CHAR(${q}, 'YYYY-MM-DD HH24:MI:SS')`;
    case 'timestamp':
      return `TO_CHAR(${q}, ${TIMESTAMP_TEXT})`;
    case 'timestampZoned':
      return `TO_CHAR(SYS_EXTRACT_UTC(CAST(${q} AS TIMESTAMP WITH TIME ZONE)), ${TIMESTAMP_TEXT})`;
    case 'interval':
      return `TO_CHAR(EXTRACT(DAY FROM ${q}) * 86400 + EXTRACT(HOUR FROM ${q}) * 3600 + EXTRACT(MINUTE FROM ${q}) * 60 + EXTRACT(SECOND FROM ${q}), 'TM9')`;
    case 'json':
      return `JSON_SERIALIZE(${q} RETURNING CLOB)`;
    case 'unsupported':
      return 'NULL';
    default:
      return q;
  }
}

/** A statement of a row read: SQL with `:n` binds, and how to fetch LOB columns. */
export interface OracleRowRead {
  sql: string;
  binds: unknown[];
  fetchInfo: Record<string, { type: oracledb.DbType | number }>;
}

/**
 * The SELECT of a row read (pure). Columns are aliased `C1`, `C2`, … (fetch settings name them); key
 * bounds and key lists are bound as the applier binds values of their column types, compared with
 * the expanded OR form (Oracle has no row-value `>`).
 */
export function oracleRowReadSql(
  info: Pick<OracleTableInfo, 'ref' | 'columnTypes'>,
  query: Omit<TargetRowsQuery, 'table'>,
  quoteTable: (ref: TableRef) => string,
  options: OracleRowReadOptions = {},
): OracleRowRead {
  const quote = (n: string) => quoteOracleIdentifier(oracleName(n, options.identifierCase));
  const binds: unknown[] = [];
  const fetchInfo: Record<string, { type: oracledb.DbType | number }> = {};
  const select = query.columns.map((name, i) => {
    const c = oracleValueClass(info.columnTypes[name]);
    if (c === 'blob') fetchInfo[`C${i + 1}`] = { type: oracledb.BUFFER };
    if (c === 'clob' || c === 'json') fetchInfo[`C${i + 1}`] = { type: oracledb.STRING };
    return `${oracleReadExpr(c, quote(name))} AS "C${i + 1}"`;
  });
  const tally = new ValueTally();
  const bind = (column: string, v: CellValue): string => {
    const b = columnBinding(info.columnTypes[column], options);
    binds.push(b.convert(v, `${tableKey(info.ref)}.${column}`, tally));
    return b.expr.replace('$', `:${binds.length}`);
  };
  const keys = query.keyColumns;
  const greater = (key: readonly CellValue[]): string => {
    if (key.length !== keys.length)
      throw new Error(`key has ${key.length} values for ${keys.length} key columns`);
    const ors = keys.map((_, i) => {
      const ands = keys.slice(0, i).map((k, j) => `${quote(k)} = ${bind(k, key[j] ?? null)}`);
      ands.push(`${quote(keys[i] as string)} > ${bind(keys[i] as string, key[i] ?? null)}`);
      return ands.length === 1 ? ands[0] : `(${ands.join(' AND ')})`;
    });
    return ors.length === 1 ? (ors[0] as string) : `(${ors.join(' OR ')})`;
  };
  const conds: string[] = [];
  if (query.after) conds.push(greater(query.after));
  if (query.upTo) conds.push(`NOT ${greater(query.upTo)}`);
  if (query.keys) {
    if (query.keys.length === 0) conds.push('1 = 0');
    else if (keys.length === 1) {
      const k = keys[0] as string;
      conds.push(`${quote(k)} IN (${query.keys.map((key) => bind(k, key[0] ?? null)).join(', ')})`);
    } else
      conds.push(
        `(${query.keys.map((key) => `(${keys.map((k, j) => `${quote(k)} = ${bind(k, key[j] ?? null)}`).join(' AND ')})`).join(' OR ')})`,
      );
  }
  return {
    sql: `SELECT ${select.join(', ')} FROM ${quoteTable(info.ref)}${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''}`,
    binds,
    fetchInfo,
  };
}

/** Target rows of an Oracle table in canonical form (canonical.ts), on the session's connection. */
export class OracleRowAccess implements TargetRowAccess {
  constructor(
    private readonly conn: Pick<OracleConnectionLike, 'execute'>,
    private readonly tables: TableInfoSource,
    private readonly quoteTable: (ref: TableRef) => string,
    private readonly options: OracleRowReadOptions = {},
  ) {}

  private async info(table: TableRef, columns: readonly string[]): Promise<OracleTableInfo> {
    const info = (await this.tables.get(table)) as OracleTableInfo;
    for (const c of columns)
      if (!info.columns.includes(c)) throw new Error(`target table ${tableKey(table)} has no column ${c}`);
    return info;
  }

  async codec(table: TableRef, columns: readonly string[]): Promise<TargetRowCodec> {
    const info = await this.info(table, columns);
    return oracleRowCodec(
      columns.map((c) => info.columnTypes[c]),
      this.options,
      columns.map((c) => `${tableKey(table)}.${c}`),
    );
  }

  async read(query: TargetRowsQuery): Promise<CanonicalValue[][]> {
    const info = await this.info(query.table, [...query.columns, ...query.keyColumns]);
    const classes = query.columns.map((c) => oracleValueClass(info.columnTypes[c]));
    if (query.keys?.length === 0) return [];
    const batches = query.keys
      ? Array.from({ length: Math.ceil(query.keys.length / KEYS_PER_READ) }, (_, i) =>
          query.keys?.slice(i * KEYS_PER_READ, (i + 1) * KEYS_PER_READ),
        )
      : [undefined];
    const out: CanonicalValue[][] = [];
    for (const keys of batches) {
      const r = oracleRowReadSql(
        info,
        { ...query, ...(keys ? { keys } : {}) },
        this.quoteTable,
        this.options,
      );
      const res = await this.conn.execute<unknown[]>(r.sql, r.binds, {
        outFormat: oracledb.OUT_FORMAT_ARRAY,
        fetchInfo: r.fetchInfo,
      });
      for (const row of res.rows ?? []) out.push(classes.map((c, i) => canonicalOracleValue(c, row[i])));
    }
    return out;
  }
}
