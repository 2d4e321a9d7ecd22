import oracledb from 'oracledb';
import type { CellValue } from '../../binlog/types';
import type { TableRef, TargetTableInfo } from '../../pipeline/model';
import type { Chunk, DeleteOp, SessionOptions, Statement, TargetDialect, UpsertOp } from '../dialect';
import {
  type ColumnBinding,
  columnBinding,
  type EmptyStringPolicy,
  type OracleDataType,
  ValueTally,
  type ZeroDatePolicy,
} from './values';

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
 * Values are converted to Oracle binds by `values.ts` from the target column's type.
 */

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
  /** Values the conversion changed as Oracle forces ('' stored as NULL), counted once the chunk ran. */
  tally: ValueTally;
}

export interface OracleDialectOptions {
  /**
   * `upper` (default): simple names (letter, then letters, digits, `_`, `$`, `#`) become upper case,
   * as Oracle stores unquoted names, so `orders.customer_id` reaches `"ORDERS"."CUSTOMER_ID"`;
   * other names are used exactly. `exact`: every name is used exactly as the pipeline spells it.
   */
  identifierCase?: 'upper' | 'exact';
  zeroDates?: ZeroDatePolicy;
  emptyStrings?: EmptyStringPolicy;
  /** executeMany takes at most 65,535 rows per call (and the applier bounds memory with maxBatchBytes). */
  maxRowsPerBatch?: number;
  maxBatchBytes?: number;
}

export const ORACLE_MAX_ROWS_PER_EXECUTE_MANY = 65_535;

const SIMPLE_NAME = /^[A-Za-z][A-Za-z0-9_$#]*$/;
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

const DEFAULTS = {
  identifierCase: 'upper' as 'upper' | 'exact',
  zeroDates: 'error' as ZeroDatePolicy,
  emptyStrings: 'null' as EmptyStringPolicy,
  maxRowsPerBatch: 10_000,
  maxBatchBytes: 16 * 1024 * 1024,
};

export class OracleDialect implements TargetDialect<OracleBatch> {
  readonly name = 'oracle';
  private readonly opts: typeof DEFAULTS;
  private readonly bindings = new Map<string, ColumnBinding>();

  constructor(options: OracleDialectOptions = {}) {
    this.opts = {
      ...DEFAULTS,
      ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    } as typeof DEFAULTS;
    if (this.opts.maxRowsPerBatch > ORACLE_MAX_ROWS_PER_EXECUTE_MANY)
      throw new Error(`maxRowsPerBatch must be at most ${ORACLE_MAX_ROWS_PER_EXECUTE_MANY}`);
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
      if (!this.binding(info.columnTypes[c]).comparable)
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
    return this.binding(info.columnTypes[column]).expr.replace('$', `:${position}`);
  }

  private binding(dataType: OracleDataType | undefined): ColumnBinding {
    const key = dataType ?? '';
    let b = this.bindings.get(key);
    if (!b) {
      b = columnBinding(dataType, this.opts);
      this.bindings.set(key, b);
    }
    return b;
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
    const bindings = columns.map((c) => this.binding(info.columnTypes[c]));
    const out: Array<OracleChunk<Op>> = [];
    let rows: unknown[][] = [];
    let batchOps: Op[] = [];
    let bytes = 0;
    let tally = new ValueTally();
    // A row's conversions are tallied apart first: the row may open the next chunk.
    const rowTally = new ValueTally();
    const names = columns.map((c) => `${info.ref.schema}.${info.ref.table}.${c}`);
    const flush = () => {
      if (rows.length === 0) return;
      const bindDefs = bindings.map((b, i) => {
        if (
          b.type === oracledb.DB_TYPE_VARCHAR ||
          b.type === oracledb.DB_TYPE_NVARCHAR ||
          b.type === oracledb.DB_TYPE_RAW
        ) {
          let max = 1;
          for (const r of rows) max = Math.max(max, byteLength(r[i]));
          return { type: b.type, maxSize: max };
        }
        return { type: b.type };
      });
      out.push({ kind, statement: { sql, binds: rows, bindDefs }, ops: batchOps, tally });
      tally = new ValueTally();
      rows = [];
      batchOps = [];
      bytes = 0;
    };
    for (const op of ops) {
      const values = valuesOf(op);
      const row = values.map((v, i) => bindings[i]!.convert(v, names[i]!, rowTally));
      const b = row.reduce<number>((n, v) => n + byteLength(v) + 8, 0);
      if (
        rows.length >= this.opts.maxRowsPerBatch ||
        (rows.length > 0 && bytes + b > this.opts.maxBatchBytes)
      )
        flush();
      if (rowTally.emptyAsNull.size > 0) {
        tally.addRow(rows.length, rowTally);
        rowTally.emptyAsNull.clear();
      }
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
