import type { Connection, Pool, RowDataPacket } from 'mysql2/promise';
import { BINARY_TYPE_NAMES, GEOMETRY_TYPE_NAMES } from './data-type-names';
import type { BinlogDecoder } from './decoder';
import { BinlogDecodeError } from './errors';
import type { BinlogEvent } from './events';
import { type ColumnDef, ColumnType, type TableSchema } from './types';
import { resolveColumnType } from './values/column-type';

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
 * (binlog_row_metadata=MINIMAL), and the MariaDB types the binlog cannot show (UUID, INET4, INET6).
 * Implementations may cache; the reader calls `invalidate` when a DDL statement passes in the
 * stream, or a table map's types changed, so the next table map sees the current definition.
 */
export interface SchemaResolver {
  /** The table's current definition, or undefined when it no longer exists. */
  resolve(schema: string, table: string): Promise<ResolvedTable | undefined>;
  /** Forget cached definitions: all of them, those of `schema`, or one table. */
  invalidate(schema?: string, table?: string): void;
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
  [ColumnType.GEOMETRY]: [...GEOMETRY_TYPE_NAMES],
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

/** information_schema DATA_TYPEs whose values are bytes (the binary collation, 63). */
const BINARY_DATA_TYPES = new Set([...BINARY_TYPE_NAMES, 'uuid', 'inet4', 'inet6']);

/** The MariaDB types logged as BINARY(n), with their n. */
const ADDRESS_TYPES: Record<string, number> = { uuid: 16, inet4: 4, inet6: 16 };

const COLUMN_TYPE_NAMES = new Map<number, string>(Object.entries(ColumnType).map(([k, v]) => [v, k]));

function describeBinlogColumn(col: ColumnDef): string {
  const { type, meta } = resolveColumnType(col.type, col.meta);
  const name = COLUMN_TYPE_NAMES.get(type) ?? `type ${type}`;
  if (type === ColumnType.STRING || type === ColumnType.VARCHAR || type === ColumnType.VAR_STRING)
    return `${name}(${meta} bytes${col.charset === 63 ? ', binary' : ''})`;
  return name;
}

/**
 * Why the binlog column `col` cannot be the information_schema column `r`, or undefined when it
 * can. Checks the type family, binary vs character data where the table map says, and the length
 * of MariaDB's UUID/INET types.
 */
function disagreement(col: ColumnDef, r: ResolvedColumn): string | undefined {
  const ok = COMPATIBLE[col.type];
  if (ok && !ok.includes(r.dataType)) return 'type';
  const { type, meta } = resolveColumnType(col.type, col.meta);
  const stringy =
    type === ColumnType.STRING ||
    type === ColumnType.VARCHAR ||
    type === ColumnType.VAR_STRING ||
    type === ColumnType.BLOB;
  if (stringy && col.charset !== undefined && r.dataType !== 'json') {
    // MariaDB JSON is a LONGTEXT; everything else is binary exactly when its collation is.
    if ((col.charset === 63) !== BINARY_DATA_TYPES.has(r.dataType)) return 'charset';
  }
  const addressLength = ADDRESS_TYPES[r.dataType];
  if (addressLength !== undefined && (type !== ColumnType.STRING || meta !== addressLength)) return 'length';
  return undefined;
}

/** The error for a table map that information_schema does not describe. */
function mismatch(table: TableSchema, detail: string): BinlogDecodeError {
  return new BinlogDecodeError(
    `schema mismatch for ${table.schema}.${table.table}: ${detail}. The table changed after these events were written ` +
      '(reading from an older position than the current definition): decoding would mislabel values, so it stops. ' +
      'Enable binlog_row_metadata=FULL on the source (MariaDB >= 10.5, MySQL >= 8.0.1) so the binlog carries column names',
  );
}

/**
 * Completes a table map with the resolved definition.
 *
 * Without column names in the binlog (binlog_row_metadata=MINIMAL) columns match by ordinal; the
 * stream is the truth for types, so when the column count or a column's type disagrees (the table
 * was altered after these events were written) it throws rather than mislabel values. Names,
 * unsigned flags, missing charsets, ENUM/SET labels, the primary key and `dataType` come from
 * information_schema.
 *
 * With column names (FULL metadata) the table map stays the truth: columns match by name and only
 * `dataType` is added where the types agree — that is how a MariaDB UUID/INET4/INET6 column, logged
 * as BINARY(16)/BINARY(4), decodes to its text. A column information_schema no longer describes
 * keeps decoding as bytes, which re-insert exactly too.
 */
export function applyResolvedTable(table: TableSchema, resolved: ResolvedTable): TableSchema {
  const named = table.columns.some((c) => c.name !== '');
  if (named) {
    const byName = new Map(resolved.columns.map((r) => [r.name.toLowerCase(), r]));
    const columns = table.columns.map((col) => {
      const r = byName.get(col.name.toLowerCase());
      if (!r || col.dataType !== undefined || disagreement(col, r) !== undefined) return col;
      return { ...col, dataType: r.dataType };
    });
    return { ...table, columns };
  }
  if (resolved.columns.length !== table.columns.length)
    throw mismatch(
      table,
      `the binlog has ${table.columns.length} columns, information_schema has ${resolved.columns.length}`,
    );
  const columns: ColumnDef[] = table.columns.map((col, i) => {
    const r = resolved.columns[i]!;
    const why = disagreement(col, r);
    if (why)
      throw mismatch(
        table,
        `column ${i + 1} is ${describeBinlogColumn(col)} in the binlog but \`${r.name}\` ${r.columnType} in information_schema`,
      );
    const out: ColumnDef = { ...col, name: r.name, dataType: r.dataType };
    if (/\bunsigned\b/i.test(r.columnType)) out.unsigned = true;
    if (out.charset === undefined) {
      if (BINARY_DATA_TYPES.has(r.dataType)) out.charset = 63;
      else if (r.collationId !== undefined) out.charset = r.collationId;
    }
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

/** Column types and metas of a table map: when they change, a cached definition is stale. */
function typeSignature(table: TableSchema): string {
  return table.columns.map((c) => `${c.type}:${c.meta}:${c.charset ?? ''}`).join(',');
}

/** Per resolver: the type signature each table's cached definition was last checked against. */
const checkedSignatures = new WeakMap<SchemaResolver, Map<string, string>>();

/**
 * Keeps a decoder and a resolver in step with one event: completes a table map that needs it
 * (no column names, or MariaDB BINARY(4)/BINARY(16) columns) and forgets cached definitions when a
 * DDL statement passes. Call it for every event, after decoding and before the next event is
 * decoded (`BinlogDecoder.resolveSchema` does, with the decoder's own resolver). Throws
 * BinlogDecodeError naming the table and the event's position when the stream and
 * information_schema disagree.
 */
export async function followSchemaChanges(
  decoder: BinlogDecoder,
  event: BinlogEvent,
  resolver: SchemaResolver,
): Promise<void> {
  if (event.kind === 'query' && event.statement === 'ddl') {
    // A DDL may name any table (ALTER, RENAME, DROP, CREATE … SELECT, CREATE INDEX, DROP DATABASE);
    // forgetting every cached definition is cheap because DDL is rare, and it cannot miss one.
    resolver.invalidate();
    checkedSignatures.get(resolver)?.clear();
    decoder.forgetCompletedTables();
    return;
  }
  if (event.kind === 'transactionPayload') {
    for (const inner of event.events) {
      if (inner.kind === 'rows') {
        const rows = decoder.redecodeRows(inner);
        if (rows) inner.rows = rows;
      } else await followSchemaChanges(decoder, inner, resolver);
    }
    return;
  }
  if (event.kind !== 'tableMap' || !decoder.tableNeedsSchema(event.table.tableId)) return;
  const { schema, table } = event.table;
  const key = `${schema}\0${table}`;
  let signatures = checkedSignatures.get(resolver);
  if (!signatures) {
    signatures = new Map();
    checkedSignatures.set(resolver, signatures);
  }
  const signature = typeSignature(event.table);
  const previous = signatures.get(key);
  // A table map whose column types changed without a DDL in the stream (DDL filtered or logged
  // with sql_log_bin=0): the cached definition was read for the old types.
  if (previous !== undefined && previous !== signature) resolver.invalidate(schema, table);
  let completed: TableSchema;
  try {
    completed = await complete(event.table, resolver);
  } catch (err) {
    if (err instanceof BinlogDecodeError && err.position === undefined)
      throw new BinlogDecodeError(err.reason, event.position ?? {});
    throw err;
  }
  signatures.set(key, signature);
  decoder.completeTable(event.table.tableId, completed);
  event.table = completed;
  event.needsColumnNames = false;
}

/** Resolves and applies; a mismatch against a cached definition is retried once with a fresh one. */
async function complete(table: TableSchema, resolver: SchemaResolver): Promise<TableSchema> {
  for (let attempt = 0; ; attempt++) {
    const resolved = await resolver.resolve(table.schema, table.table);
    const named = table.columns.some((c) => c.name !== '');
    if (!resolved) {
      // With names in the binlog, a table that is gone only loses the UUID/INET text form.
      if (named) return table;
      throw new BinlogDecodeError(
        `table ${table.schema}.${table.table} has no column names in the binlog and no longer exists in information_schema`,
      );
    }
    try {
      return applyResolvedTable(table, resolved);
    } catch (err) {
      if (attempt > 0 || !(err instanceof BinlogDecodeError)) throw err;
      resolver.invalidate(table.schema, table.table);
    }
  }
}

/** A SchemaResolver that queries information_schema over a mysql2 connection or pool, with a cache per table. */
export class InformationSchemaResolver implements SchemaResolver {
  private readonly cache = new Map<string, Promise<ResolvedTable | undefined>>();
  /** information_schema reads so far (for tests and status). */
  queries = 0;

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

  invalidate(schema?: string, table?: string): void {
    if (schema === undefined) this.cache.clear();
    else if (table !== undefined) this.cache.delete(`${schema}\0${table}`);
    else for (const key of this.cache.keys()) if (key.startsWith(`${schema}\0`)) this.cache.delete(key);
  }

  private async load(schema: string, table: string): Promise<ResolvedTable | undefined> {
    this.queries++;
    const columns = await readInformationSchemaColumns(this.db, schema, table);
    if (columns.length === 0) return undefined;
    const [pk] = await this.db.query<RowDataPacket[]>(
      `SELECT s.COLUMN_NAME AS name FROM information_schema.STATISTICS s
        WHERE s.TABLE_SCHEMA = ? AND s.TABLE_NAME = ? AND s.INDEX_NAME = 'PRIMARY'
        ORDER BY s.SEQ_IN_INDEX`,
      [schema, table],
    );
    const ordinal = new Map(columns.map((c, i) => [c.name, i]));
    return {
      columns,
      primaryKey: pk.map((r) => ordinal.get(String(r.name))!).filter((i) => i !== undefined),
    };
  }
}

/**
 * A table's columns from information_schema, in table order (empty when the table does not exist):
 * name, data type, full column type (signedness, ENUM/SET labels) and collation id.
 */
export async function readInformationSchemaColumns(
  db: Connection | Pool,
  schema: string,
  table: string,
): Promise<ResolvedColumn[]> {
  const [cols] = await db.query<RowDataPacket[]>(
    `SELECT c.COLUMN_NAME AS name, LOWER(c.DATA_TYPE) AS dataType, c.COLUMN_TYPE AS columnType,
            c.IS_NULLABLE AS nullable, co.ID AS collationId
       FROM information_schema.COLUMNS c
       LEFT JOIN information_schema.COLLATIONS co ON co.COLLATION_NAME = c.COLLATION_NAME
      WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ?
      ORDER BY c.ORDINAL_POSITION`,
    [schema, table],
  );
  return cols.map((r) => ({
    name: String(r.name),
    dataType: String(r.dataType),
    columnType: String(r.columnType),
    nullable: r.nullable === 'YES',
    collationId: r.collationId === null || r.collationId === undefined ? undefined : Number(r.collationId),
  }));
}
