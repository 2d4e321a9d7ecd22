import oracledb from 'oracledb';
import type { CellValue } from '../../binlog/types';
import type { TableRef, TargetTableInfo } from '../../pipeline/model';
import type { Chunk, DeleteOp, SessionOptions, Statement, TargetDialect, UpsertOp } from '../dialect';

/**
 * Oracle SQL generation for the applier (pure; unit-tested without a server). Oracle has no
 * multi-row VALUES, so every statement is one row's SQL executed for many rows at once with
 * `executeMany` and positional binds (`:1`, `:2`, …):
 * - insert-or-update:  MERGE INTO t USING (SELECT :1 "ID", :2 "NAME" FROM dual) s ON (t."ID" = s."ID")
 *                      WHEN MATCHED THEN UPDATE SET … WHEN NOT MATCHED THEN INSERT … VALUES …
 * - UPDATE that must find its row: UPDATE t SET … WHERE key; `dmlRowCounts` tells which rows were
 *   missing, and those are then inserted (and reported)
 * - delete:            DELETE FROM t WHERE "ID" = :1   (`dmlRowCounts` names missing rows)
 * - full-row tables:   DELETE … WHERE ROWID IN (SELECT ROWID … WHERE DECODE(c, :n, 1, 0) = 1 … AND ROWNUM = 1)
 *
 * Values are converted to Oracle binds by {@link OracleValueMapper} from the target column's type.
 */

/** Oracle column type as ALL_TAB_COLUMNS spells DATA_TYPE (`NUMBER`, `VARCHAR2`, `TIMESTAMP(6)`, …). */
export type OracleDataType = string;

export interface OracleTableInfo extends TargetTableInfo {
  /** Pipeline column name → Oracle DATA_TYPE; columns not listed are bound as text. */
  columnTypes: Record<string, OracleDataType>;
}

/** A statement run once per bind row through `connection.executeMany`. */
export interface OracleBatch {
  sql: string;
  /** One array of positional bind values per row. */
  binds: unknown[][];
  /** Type (and maximum size for variable-length types) of each positional bind, shared by all rows. */
  bindDefs: Array<{ type: oracledb.DbType; maxSize?: number }>;
}

export interface OracleChunk<Op> extends Chunk<Op, OracleBatch> {
  kind:
    | 'merge'
    /** UPDATE for operations that expect an existing row; rows counting 0 are missing. */
    | 'update'
    /** INSERT (full-row tables, and rows an `update` chunk found missing). */
    | 'insert'
    | 'delete'
    /** Full-row tables: removes one row equal to an UPDATE's before image. */
    | 'deleteBeforeImage';
}

/**
 * What to do with MySQL zero dates ('0000-00-00', '2020-00-15'), which Oracle cannot store:
 * `error` (default) stops with a message naming the column, `null` stores NULL.
 */
export type ZeroDatePolicy = 'error' | 'null';

export interface OracleDialectOptions {
  /**
   * `upper` (default): simple names (letter, then letters, digits, `_`, `$`, `#`) become upper case,
   * as Oracle stores unquoted names, so `orders.customer_id` reaches `"ORDERS"."CUSTOMER_ID"`;
   * other names are used exactly. `exact`: every name is used exactly as the pipeline spells it.
   */
  identifierCase?: 'upper' | 'exact';
  zeroDates?: ZeroDatePolicy;
  /** executeMany takes at most 65,535 rows per call (and the applier bounds memory with maxBatchBytes). */
  maxRowsPerBatch?: number;
  maxBatchBytes?: number;
}

export const ORACLE_MAX_ROWS_PER_EXECUTE_MANY = 65_535;

const SIMPLE_NAME = /^[A-Za-z][A-Za-z0-9_$#]*$/;
const TIMESTAMP_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF6';

/** Raised for a value Oracle cannot hold under the configured policy (e.g. a zero date with `zeroDates: error`). */
export class OracleValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OracleValueError';
  }
}

/** The Oracle spelling of a pipeline name (see {@link OracleDialectOptions.identifierCase}). */
export function oracleName(name: string, identifierCase: 'upper' | 'exact' = 'upper'): string {
  return identifierCase === 'upper' && SIMPLE_NAME.test(name) ? name.toUpperCase() : name;
}

/** The pipeline spelling of an Oracle catalog name: the inverse of {@link oracleName} for simple names. */
export function pipelineName(catalogName: string, identifierCase: 'upper' | 'exact' = 'upper'): string {
  return identifierCase === 'upper' &&
    SIMPLE_NAME.test(catalogName) &&
    catalogName === catalogName.toUpperCase()
    ? catalogName.toLowerCase()
    : catalogName;
}

/** Double-quotes an Oracle identifier; Oracle forbids `"` and NUL inside names and allows 128 bytes. */
export function quoteOracleIdentifier(name: string): string {
  if (name.length === 0) throw new Error('empty identifier');
  if (/["\0]/.test(name))
    throw new Error(`Oracle identifiers cannot contain '"' or NUL: ${JSON.stringify(name)}`);
  if (Buffer.byteLength(name, 'utf8') > 128)
    throw new Error(`Oracle identifier longer than 128 bytes: ${name}`);
  return `"${name}"`;
}

/** Which bind type and SQL wrapper a column's values need. */
interface ColumnBinding {
  type: oracledb.DbType;
  /** SQL around the placeholder, `$` standing for `:n`. */
  expr: string;
  convert: (v: CellValue, column: string) => unknown;
  /** Whether `=` can compare the column (LOBs cannot). */
  comparable: boolean;
}

/**
 * Converts CellValues (docs/value-representation.md) to Oracle binds by target column type:
 * - NUMBER/FLOAT/INTEGER: bigint, DECIMAL strings and numbers travel as text into TO_NUMBER (exact
 *   up to Oracle's 38 digits; the session sets NLS_NUMERIC_CHARACTERS to '.,')
 * - BINARY_DOUBLE/BINARY_FLOAT: JS numbers, exact
 * - DATE: TO_DATE of the text cut to seconds; TIMESTAMP: TO_TIMESTAMP with 6 fractional digits;
 *   TIMESTAMP WITH (LOCAL) TIME ZONE: FROM_TZ(…, 'UTC') (MySQL TIMESTAMP values are UTC text)
 * - INTERVAL DAY TO SECOND: MySQL TIME '-838:59:59.5' → TO_DSINTERVAL('-34 22:59:59.5')
 * - RAW: Buffer as RAW; BLOB: Buffer as BLOB; CLOB/NCLOB: text as CLOB
 * - everything else (VARCHAR2, CHAR, JSON …): text; numbers and bigints are written as decimal text,
 *   Buffers as their bytes decoded as UTF-8
 */
export class OracleValueMapper {
  constructor(private readonly zeroDates: ZeroDatePolicy = 'error') {}

  binding(dataType: OracleDataType | undefined): ColumnBinding {
    const t = (dataType ?? 'VARCHAR2').toUpperCase();
    if (t === 'NUMBER' || t === 'FLOAT' || t === 'INTEGER')
      return {
        type: oracledb.DB_TYPE_VARCHAR,
        expr: 'TO_NUMBER($)',
        convert: (v) => this.numberText(v),
        comparable: true,
      };
    if (t === 'BINARY_DOUBLE' || t === 'BINARY_FLOAT')
      return {
        type: oracledb.DB_TYPE_BINARY_DOUBLE,
        expr: '$',
        convert: (v) => (v === null ? null : Number(v)),
        comparable: true,
      };
    if (t === 'DATE')
      return {
        type: oracledb.DB_TYPE_VARCHAR,
        expr: "TO_DATE($, 'YYYY-MM-DD HH24:MI:SS')",
        convert: (v, c) => this.dateText(v, c)?.slice(0, 19) ?? null,
        comparable: true,
      };
    if (t.startsWith('TIMESTAMP') && t.includes('TIME ZONE'))
      return {
        type: oracledb.DB_TYPE_VARCHAR,
        expr: `FROM_TZ(TO_TIMESTAMP($, '${TIMESTAMP_FORMAT}'), 'UTC')`,
        convert: (v, c) => this.dateText(v, c),
        comparable: true,
      };
    if (t.startsWith('TIMESTAMP'))
      return {
        type: oracledb.DB_TYPE_VARCHAR,
        expr: `TO_TIMESTAMP($, '${TIMESTAMP_FORMAT}')`,
        convert: (v, c) => this.dateText(v, c),
        comparable: true,
      };
    if (t.startsWith('INTERVAL DAY'))
      return {
        type: oracledb.DB_TYPE_VARCHAR,
        expr: 'TO_DSINTERVAL($)',
        convert: (v) => timeToInterval(v),
        comparable: true,
      };
    if (t === 'RAW' || t === 'LONG RAW')
      return { type: oracledb.DB_TYPE_RAW, expr: '$', convert: (v) => toBuffer(v), comparable: true };
    if (t === 'BLOB')
      return { type: oracledb.DB_TYPE_BLOB, expr: '$', convert: (v) => toBuffer(v), comparable: false };
    if (t === 'CLOB' || t === 'NCLOB')
      return { type: oracledb.DB_TYPE_CLOB, expr: '$', convert: (v) => toText(v), comparable: false };
    return { type: oracledb.DB_TYPE_VARCHAR, expr: '$', convert: (v) => toText(v), comparable: true };
  }

  private numberText(v: CellValue): string | null {
    if (v === null) return null;
    if (Buffer.isBuffer(v)) return BigInt(`0x${v.toString('hex') || '0'}`).toString(); // BIT → its number
    return String(v);
  }

  /** MySQL temporal text → 'YYYY-MM-DD HH24:MI:SS.FF6'; zero dates per policy. */
  private dateText(v: CellValue, column: string): string | null {
    if (v === null) return null;
    const s = String(v);
    const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?)?$/.exec(s);
    if (!m) throw new OracleValueError(`column ${column}: ${JSON.stringify(s)} is not a date/time value`);
    if (m[1] === '0000' || m[2] === '00' || m[3] === '00') {
      if (this.zeroDates === 'null') return null;
      throw new OracleValueError(
        `column ${column}: zero date ${s} cannot be stored in Oracle (set zeroDates: 'null' to store NULL)`,
      );
    }
    return `${m[1]}-${m[2]}-${m[3]} ${m[4] ?? '00'}:${m[5] ?? '00'}:${m[6] ?? '00'}.${(m[7] ?? '').padEnd(6, '0')}`;
  }
}

/** MySQL TIME text ('-838:59:59.000000') → Oracle day-to-second interval text ('-34 22:59:59.000000'). */
export function timeToInterval(v: CellValue): string | null {
  if (v === null) return null;
  const m = /^(-?)(\d+):(\d{2}):(\d{2})(\.\d+)?$/.exec(String(v));
  if (!m) throw new OracleValueError(`${JSON.stringify(v)} is not a TIME value`);
  const hours = Number(m[2]);
  return `${m[1]}${Math.floor(hours / 24)} ${String(hours % 24).padStart(2, '0')}:${m[3]}:${m[4]}${m[5] ?? ''}`;
}

function toBuffer(v: CellValue): Buffer | null {
  if (v === null) return null;
  return Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8');
}

function toText(v: CellValue): string | null {
  if (v === null) return null;
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

const DEFAULTS = {
  identifierCase: 'upper' as 'upper' | 'exact',
  zeroDates: 'error' as ZeroDatePolicy,
  maxRowsPerBatch: 10_000,
  maxBatchBytes: 16 * 1024 * 1024,
};

export class OracleDialect implements TargetDialect<OracleBatch> {
  readonly name = 'oracle';
  private readonly opts: typeof DEFAULTS;
  private readonly values: OracleValueMapper;

  constructor(options: OracleDialectOptions = {}) {
    this.opts = {
      ...DEFAULTS,
      ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    } as typeof DEFAULTS;
    if (this.opts.maxRowsPerBatch > ORACLE_MAX_ROWS_PER_EXECUTE_MANY)
      throw new Error(`maxRowsPerBatch must be at most ${ORACLE_MAX_ROWS_PER_EXECUTE_MANY}`);
    this.values = new OracleValueMapper(this.opts.zeroDates);
  }

  get identifierCase(): 'upper' | 'exact' {
    return this.opts.identifierCase;
  }

  quoteIdentifier(name: string): string {
    return quoteOracleIdentifier(oracleName(name, this.opts.identifierCase));
  }

  quoteTable(ref: TableRef): string {
    return `${this.quoteIdentifier(ref.schema)}.${this.quoteIdentifier(ref.table)}`;
  }

  /**
   * Numbers travel as text: fix the decimal separator whatever the client's locale. Dates travel as
   * text with explicit formats, so NLS date formats do not matter. Foreign keys cannot be switched
   * off per session in Oracle: with `foreignKeyChecks` false the applier runs
   * {@link deferConstraintsStatement} at the start of every apply (it lasts one transaction), which
   * defers DEFERRABLE constraints to commit; NOT DEFERRABLE ones are checked per statement.
   */
  sessionSetup(_options: SessionOptions = {}): Statement[] {
    return [{ sql: "ALTER SESSION SET NLS_NUMERIC_CHARACTERS = '.,'", params: [] }];
  }

  /** `SET CONSTRAINTS ALL DEFERRED`: once per transaction. */
  deferConstraintsStatement(): Statement {
    return { sql: 'SET CONSTRAINTS ALL DEFERRED', params: [] };
  }

  /**
   * Keyed tables: `DELETE … WHERE key = :n`, one bind row per key. Full-row tables: at most one
   * row whose every column equals the before image (NULL-safe through DECODE) per bind row.
   */
  deleteStatements(info: OracleTableInfo, deletes: DeleteOp[]): Array<OracleChunk<DeleteOp>> {
    if (deletes.length === 0) return [];
    const sql = info.keyKind === 'fullRow' ? this.deleteOneMatchingSql(info) : this.deleteByKeySql(info);
    return this.batches(info, info.keyColumns, deletes, (op) => op.key, sql, 'delete');
  }

  /**
   * Keyed tables: operations that expect an existing row (UPDATEs) become `UPDATE … WHERE key`
   * (FIELD mode: only the changed columns), whose per-row counts find missing rows; the rest
   * become MERGE. Full-row tables: an UPDATE deletes one row equal to its before image (`op.key`),
   * then every row is inserted.
   */
  upsertStatements(info: OracleTableInfo, upserts: UpsertOp[]): Array<OracleChunk<UpsertOp>> {
    if (upserts.length === 0) return [];
    if (info.keyKind === 'fullRow') {
      const updates = upserts.filter((op) => op.expectExisting);
      const deletes = updates.length
        ? this.batches(
            info,
            info.keyColumns,
            updates,
            (op) => op.key,
            this.deleteOneMatchingSql(info),
            'deleteBeforeImage',
          )
        : [];
      return [...deletes, ...this.insertStatements(info, upserts)];
    }
    const out: Array<OracleChunk<UpsertOp>> = [];
    for (const g of groupBy(upserts, (op) => {
      const columns = orderColumns(info.columns, [...op.row.keys()]);
      const updates = op.expectExisting ? this.updateColumns(info, columns, op.changedColumns) : [];
      return { columns, updates, update: op.expectExisting };
    })) {
      if (g.shape.update) {
        const sets = g.shape.updates;
        const sql =
          `UPDATE ${this.quoteTable(info.ref)} SET ` +
          sets.map((c, i) => `${this.quoteIdentifier(c)} = ${this.expr(info, c, i + 1)}`).join(', ') +
          ` WHERE ${this.keyCondition(info, sets.length + 1)}`;
        out.push(
          ...this.batches(
            info,
            [...sets, ...info.keyColumns],
            g.ops,
            (op) => [...sets.map((c) => op.row.get(c) ?? null), ...op.key],
            sql,
            'update',
          ),
        );
      } else {
        out.push(
          ...this.batches(
            info,
            g.shape.columns,
            g.ops,
            (op) => g.shape.columns.map((c) => op.row.get(c) ?? null),
            this.mergeSql(info, g.shape.columns),
            'merge',
          ),
        );
      }
    }
    return out;
  }

  /** Plain INSERTs of whole rows: full-row tables, and the rows an `update` chunk found missing. */
  insertStatements(info: OracleTableInfo, upserts: UpsertOp[]): Array<OracleChunk<UpsertOp>> {
    const out: Array<OracleChunk<UpsertOp>> = [];
    for (const g of groupBy(upserts, (op) => ({ columns: orderColumns(info.columns, [...op.row.keys()]) }))) {
      const cols = g.shape.columns;
      const sql =
        `INSERT INTO ${this.quoteTable(info.ref)} (${cols.map((c) => this.quoteIdentifier(c)).join(', ')}) ` +
        `VALUES (${cols.map((c, i) => this.expr(info, c, i + 1)).join(', ')})`;
      out.push(
        ...this.batches(info, cols, g.ops, (op) => cols.map((c) => op.row.get(c) ?? null), sql, 'insert'),
      );
    }
    return out;
  }

  // ---- SQL builders ----

  private mergeSql(info: OracleTableInfo, columns: string[]): string {
    const keys = new Set(info.keyColumns);
    const q = (c: string) => this.quoteIdentifier(c);
    const source = columns.map((c, i) => `${this.expr(info, c, i + 1)} ${q(c)}`).join(', ');
    const on = info.keyColumns.map((c) => `t.${q(c)} = s.${q(c)}`).join(' AND ');
    const updates = columns.filter((c) => !keys.has(c));
    // Oracle forbids updating columns of the ON clause; a row of key columns only has nothing to update.
    const matched = updates.length
      ? ` WHEN MATCHED THEN UPDATE SET ${updates.map((c) => `t.${q(c)} = s.${q(c)}`).join(', ')}`
      : '';
    return (
      `MERGE INTO ${this.quoteTable(info.ref)} t USING (SELECT ${source} FROM dual) s ON (${on})` +
      matched +
      ` WHEN NOT MATCHED THEN INSERT (${columns.map(q).join(', ')}) VALUES (${columns.map((c) => `s.${q(c)}`).join(', ')})`
    );
  }

  private deleteByKeySql(info: OracleTableInfo): string {
    return `DELETE FROM ${this.quoteTable(info.ref)} WHERE ${this.keyCondition(info, 1)}`;
  }

  private deleteOneMatchingSql(info: OracleTableInfo): string {
    const conds = info.keyColumns.map((c, i) => {
      if (!this.values.binding(info.columnTypes[c]).comparable)
        throw new Error(
          `full-row matching on Oracle cannot compare LOB column ${c} of ${info.ref.schema}.${info.ref.table}: give the table a key`,
        );
      // DECODE treats two NULLs as equal: the NULL-safe comparison Oracle lacks as an operator.
      return `DECODE(${this.quoteIdentifier(c)}, ${this.expr(info, c, i + 1)}, 1, 0) = 1`;
    });
    const table = this.quoteTable(info.ref);
    return `DELETE FROM ${table} WHERE ROWID IN (SELECT ROWID FROM ${table} WHERE ${conds.join(' AND ')} AND ROWNUM = 1)`;
  }

  /** `"K1" = :n AND "K2" = :n+1` for the key columns, placeholders numbered from `first`. */
  private keyCondition(info: OracleTableInfo, first: number): string {
    return info.keyColumns
      .map((c, i) => `${this.quoteIdentifier(c)} = ${this.expr(info, c, first + i)}`)
      .join(' AND ');
  }

  private expr(info: OracleTableInfo, column: string, position: number): string {
    return this.values.binding(info.columnTypes[column]).expr.replace('$', `:${position}`);
  }

  private updateColumns(info: TargetTableInfo, columns: string[], changed: string[] | undefined): string[] {
    const keys = new Set(info.keyColumns);
    const written = new Set(columns);
    const candidates = changed
      ? orderColumns(
          info.columns,
          changed.filter((c) => written.has(c)),
        )
      : columns;
    const updates = candidates.filter((c) => !keys.has(c));
    return updates.length > 0 ? updates : [info.keyColumns[0]!];
  }

  /**
   * Converts each op's values to binds of its column's type and splits the ops into executeMany
   * calls bounded by rows and bytes. Variable-length binds get the largest size in their batch.
   */
  private batches<Op>(
    info: OracleTableInfo,
    columns: string[],
    ops: Op[],
    valuesOf: (op: Op) => CellValue[],
    sql: string,
    kind: OracleChunk<Op>['kind'],
  ): Array<OracleChunk<Op>> {
    const bindings = columns.map((c) => this.values.binding(info.columnTypes[c]));
    const out: Array<OracleChunk<Op>> = [];
    let rows: unknown[][] = [];
    let batchOps: Op[] = [];
    let bytes = 0;
    const flush = () => {
      if (rows.length === 0) return;
      const bindDefs = bindings.map((b, i) => {
        if (b.type === oracledb.DB_TYPE_VARCHAR || b.type === oracledb.DB_TYPE_RAW) {
          let max = 1;
          for (const r of rows) max = Math.max(max, byteLength(r[i]));
          return { type: b.type, maxSize: max };
        }
        return { type: b.type };
      });
      out.push({ kind, statement: { sql, binds: rows, bindDefs }, ops: batchOps });
      rows = [];
      batchOps = [];
      bytes = 0;
    };
    for (const op of ops) {
      const values = valuesOf(op);
      const row = values.map((v, i) => bindings[i]!.convert(v, columns[i]!));
      const b = row.reduce<number>((n, v) => n + byteLength(v) + 8, 0);
      if (
        rows.length >= this.opts.maxRowsPerBatch ||
        (rows.length > 0 && bytes + b > this.opts.maxBatchBytes)
      )
        flush();
      rows.push(row);
      batchOps.push(op);
      bytes += b;
    }
    flush();
    return out;
  }
}

function byteLength(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (Buffer.isBuffer(v)) return v.length;
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
  return 8;
}

/** Row columns in table order; unknown columns last (Oracle names them in its error). */
function orderColumns(tableColumns: string[], present: string[]): string[] {
  const have = new Set(present);
  const ordered = tableColumns.filter((c) => have.has(c));
  if (ordered.length === present.length) return ordered;
  const known = new Set(tableColumns);
  return [...ordered, ...present.filter((c) => !known.has(c))];
}

function groupBy<Op, S>(ops: Op[], shapeOf: (op: Op) => S): Array<{ shape: S; ops: Op[] }> {
  const groups = new Map<string, { shape: S; ops: Op[] }>();
  for (const op of ops) {
    const shape = shapeOf(op);
    const k = JSON.stringify(shape);
    let g = groups.get(k);
    if (!g) {
      g = { shape, ops: [] };
      groups.set(k, g);
    }
    g.ops.push(op);
  }
  return [...groups.values()];
}
