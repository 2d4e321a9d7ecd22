import type { Connection, Pool, RowDataPacket } from 'mysql2/promise';
import type { BinlogDecoder } from './decoder';
import { BinlogDecodeError } from './errors';
import type { BinlogEvent } from './events';
import { type ColumnDef, ColumnType, type TableSchema } from './types';

/** One column as information_schema describes it. */
export interface ResolvedColumn {
  name: string;
  /** information_schema.COLUMNS.DATA_TYPE, lower case (e.g. `int`, `varchar`, `inet6`). */
  dataType: string;
  /** COLUMNS.COLUMN_TYPE (e.g. `int(10) unsigned`, `enum('a','b')`). */
  columnType: string;
  nullable: boolean;
  /** Collation id of character columns. */
  collationId?: number;
}

/** A table's current definition: columns in ordinal order and primary-key ordinals. */
export interface ResolvedTable {
  columns: ResolvedColumn[];
  primaryKey: number[];
}

/**
 * Supplies table definitions when the binlog carries no column names
 * (binlog_row_metadata=MINIMAL). Implementations may cache; the reader calls `invalidate` when a
 * DDL statement passes in the stream so the next table map sees the new definition.
 */
export interface SchemaResolver {
  /** The table's current definition, or undefined when it no longer exists. */
  resolve(schema: string, table: string): Promise<ResolvedTable | undefined>;
  /** Forget cached definitions (all of them when `schema` is undefined). */
  invalidate(schema?: string): void;
}

/** information_schema DATA_TYPEs that each binlog column type can stand for. */
const COMPATIBLE: Record<number, readonly string[]> = {
  [ColumnType.TINY]: ['tinyint', 'bool', 'boolean'],
  [ColumnType.SHORT]: ['smallint'],
  [ColumnType.INT24]: ['mediumint'],
  [ColumnType.LONG]: ['int', 'integer'],
  [ColumnType.LONGLONG]: ['bigint'],
  [ColumnType.FLOAT]: ['float'],
  [ColumnType.DOUBLE]: ['double', 'real'],
  [ColumnType.NEWDECIMAL]: ['decimal', 'numeric'],
  [ColumnType.DECIMAL]: ['decimal', 'numeric'],
  [ColumnType.YEAR]: ['year'],
  [ColumnType.DATE]: ['date'],
  [ColumnType.NEWDATE]: ['date'],
  [ColumnType.TIME]: ['time'],
  [ColumnType.TIME2]: ['time'],
  [ColumnType.DATETIME]: ['datetime'],
  [ColumnType.DATETIME2]: ['datetime'],
  [ColumnType.TIMESTAMP]: ['timestamp'],
  [ColumnType.TIMESTAMP2]: ['timestamp'],
  [ColumnType.BIT]: ['bit'],
  [ColumnType.VARCHAR]: ['varchar', 'varbinary', 'vector'],
  [ColumnType.VAR_STRING]: ['varchar', 'varbinary'],
  [ColumnType.STRING]: ['char', 'binary', 'uuid', 'inet4', 'inet6'],
  [ColumnType.ENUM]: ['enum'],
  [ColumnType.SET]: ['set'],
  [ColumnType.BLOB]: [
    'tinyblob',
    'blob',
    'mediumblob',
    'longblob',
    'tinytext',
    'text',
    'mediumtext',
    'longtext',
    'json',
  ],
  [ColumnType.JSON]: ['json'],
  [ColumnType.GEOMETRY]: [
    'geometry',
    'point',
    'linestring',
    'polygon',
    'multipoint',
    'multilinestring',
    'multipolygon',
    'geometrycollection',
    'geomcollection',
  ],
};

/** Parses the quoted labels of `enum('a','it''s')` / `set(...)` from COLUMN_TYPE. */
export function parseEnumLabels(columnType: string): string[] {
  const open = columnType.indexOf('(');
  const labels: string[] = [];
  let i = open + 1;
  while (i > 0 && i < columnType.length) {
    if (columnType[i] !== "'") break;
    let label = '';
    i++;
    for (;;) {
      const ch = columnType[i];
      if (ch === undefined) return labels;
      if (ch === "'" && columnType[i + 1] === "'") {
        label += "'";
        i += 2;
      } else if (ch === '\\' && columnType[i + 1] !== undefined) {
        label += columnType[i + 1];
        i += 2;
      } else if (ch === "'") {
        i++;
        break;
      } else {
        label += ch;
        i++;
      }
    }
    labels.push(label);
    if (columnType[i] === ',') i++;
  }
  return labels;
}

/**
 * Completes a table map that has no column names with the resolved definition. The stream is
 * the truth for types: when the column count or a column's type family disagrees (the table
 * was altered after these events were written), it throws rather than mis-label values.
 */
export function applyResolvedTable(table: TableSchema, resolved: ResolvedTable): TableSchema {
  const where = `${table.schema}.${table.table}`;
  if (resolved.columns.length !== table.columns.length)
    throw new BinlogDecodeError(
      `schema mismatch for ${where}: the binlog has ${table.columns.length} columns, information_schema has ${resolved.columns.length} (the table changed after these events were written; enable binlog_row_metadata=FULL on the source)`,
    );
  const columns: ColumnDef[] = table.columns.map((col, i) => {
    const r = resolved.columns[i]!;
    const ok = COMPATIBLE[col.type];
    if (ok && !ok.includes(r.dataType))
      throw new BinlogDecodeError(
        `schema mismatch for ${where}: column ${i + 1} is type ${col.type} in the binlog but ${r.columnType} (${r.name}) in information_schema`,
      );
    const out: ColumnDef = { ...col, name: col.name || r.name };
    if (/\bunsigned\b/i.test(r.columnType)) out.unsigned = true;
    if (out.charset === undefined && r.collationId !== undefined) out.charset = r.collationId;
    if (col.type === ColumnType.ENUM && !out.enumValues) out.enumValues = parseEnumLabels(r.columnType);
    if (col.type === ColumnType.SET && !out.setValues) out.setValues = parseEnumLabels(r.columnType);
    return out;
  });
  return {
    ...table,
    columns,
    primaryKey: table.primaryKey.length ? table.primaryKey : [...resolved.primaryKey],
  };
}

/**
 * Keeps a decoder and a resolver in step with one event: resolves names of a table map that
 * has none, and drops cached definitions when a DDL statement passes. Call it for every event,
 * after decoding and before the next event is decoded.
 */
export async function followSchemaChanges(
  decoder: BinlogDecoder,
  event: BinlogEvent,
  resolver: SchemaResolver,
): Promise<void> {
  if (event.kind === 'query' && event.statement === 'ddl') {
    // A DDL may name any schema; dropping every cached definition is cheap because DDL is rare.
    resolver.invalidate();
    return;
  }
  if (event.kind === 'transactionPayload') {
    for (const inner of event.events) await followSchemaChanges(decoder, inner, resolver);
    return;
  }
  if (event.kind !== 'tableMap' || !event.needsColumnNames) return;
  const resolved = await resolver.resolve(event.table.schema, event.table.table);
  if (!resolved)
    throw new BinlogDecodeError(
      `table ${event.table.schema}.${event.table.table} has no column names in the binlog and no longer exists in information_schema`,
      event.position ?? {},
    );
  let completed: TableSchema;
  try {
    completed = applyResolvedTable(event.table, resolved);
  } catch (err) {
    if (err instanceof BinlogDecodeError) throw new BinlogDecodeError(err.reason, event.position ?? {});
    throw err;
  }
  decoder.completeTable(event.table.tableId, completed);
  event.table = completed;
  event.needsColumnNames = false;
}

/** A SchemaResolver that queries information_schema over a mysql2 connection or pool, with a cache. */
export class InformationSchemaResolver implements SchemaResolver {
  private readonly cache = new Map<string, Promise<ResolvedTable | undefined>>();

  constructor(private readonly db: Connection | Pool) {}

  resolve(schema: string, table: string): Promise<ResolvedTable | undefined> {
    const key = `${schema}\0${table}`;
    let hit = this.cache.get(key);
    if (!hit) {
      hit = this.load(schema, table);
      this.cache.set(key, hit);
      hit.catch(() => this.cache.delete(key));
    }
    return hit;
  }

  invalidate(schema?: string): void {
    if (schema === undefined) this.cache.clear();
    else for (const key of this.cache.keys()) if (key.startsWith(`${schema}\0`)) this.cache.delete(key);
  }

  private async load(schema: string, table: string): Promise<ResolvedTable | undefined> {
    const [cols] = await this.db.query<RowDataPacket[]>(
      `SELECT c.COLUMN_NAME AS name, LOWER(c.DATA_TYPE) AS dataType, c.COLUMN_TYPE AS columnType,
              c.IS_NULLABLE AS nullable, co.ID AS collationId
         FROM information_schema.COLUMNS c
         LEFT JOIN information_schema.COLLATIONS co ON co.COLLATION_NAME = c.COLLATION_NAME
        WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ?
        ORDER BY c.ORDINAL_POSITION`,
      [schema, table],
    );
    if (cols.length === 0) return undefined;
    const [pk] = await this.db.query<RowDataPacket[]>(
      `SELECT s.COLUMN_NAME AS name FROM information_schema.STATISTICS s
        WHERE s.TABLE_SCHEMA = ? AND s.TABLE_NAME = ? AND s.INDEX_NAME = 'PRIMARY'
        ORDER BY s.SEQ_IN_INDEX`,
      [schema, table],
    );
    const columns: ResolvedColumn[] = cols.map((r) => ({
      name: String(r.name),
      dataType: String(r.dataType),
      columnType: String(r.columnType),
      nullable: r.nullable === 'YES',
      collationId: r.collationId === null || r.collationId === undefined ? undefined : Number(r.collationId),
    }));
    const ordinal = new Map(columns.map((c, i) => [c.name, i]));
    return {
      columns,
      primaryKey: pk.map((r) => ordinal.get(String(r.name))!).filter((i) => i !== undefined),
    };
  }
}
