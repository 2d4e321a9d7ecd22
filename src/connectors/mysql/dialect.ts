import type { CellValue } from '../../binlog/types';
import type { TableRef, TargetTableInfo } from '../../pipeline/model';
import type { Chunk, DeleteOp, SessionOptions, Statement, TargetDialect, UpsertOp } from '../dialect';

/**
 * MySQL/MariaDB SQL generation for the applier: pure functions of a table's info and a plan's
 * operations, unit-tested without a server. Every value is a `?` placeholder; only quoted
 * identifiers are written into the SQL text.
 *
 * Statement shapes (see docs/target-dialects.md):
 * - keyed delete:   DELETE FROM t WHERE `k` IN (?,…)  |  WHERE (`k1`,`k2`) IN ((?,?),…)
 * - keyed upsert:   INSERT INTO t (cols) VALUES (…),(…) ON DUPLICATE KEY UPDATE `c`=VALUES(`c`),…
 *                   (`AS new … c=new.c` with the MySQL 8.0.20+ alias syntax)
 * - fullRow delete: DELETE FROM t WHERE `a` <=> ? AND `b` <=> ? … LIMIT 1   (one row per statement)
 * - fullRow update: the delete above on the before image, then a plain multi-row INSERT
 */

/** Which ON DUPLICATE KEY UPDATE spelling to use. */
export type UpsertSyntax =
  /** `c = VALUES(c)`: MariaDB (all versions) and MySQL before 8.0.20 (deprecated, still accepted, after). */
  | 'values'
  /** `VALUES (…) AS new ON DUPLICATE KEY UPDATE c = new.c`: MySQL 8.0.19+ only. */
  | 'alias';

export interface MysqlDialectOptions {
  upsertSyntax?: UpsertSyntax;
  /**
   * Upper bound of one statement's size in bytes (estimated with worst-case escaping). Keep it well
   * below the server's max_allowed_packet; the applier lowers it to half the server's value.
   */
  maxStatementBytes?: number;
  /** Upper bound of placeholders in one statement: the protocol counts them in 16 bits. */
  maxPlaceholders?: number;
  /** Upper bound of rows in one statement; beyond ~1000 rows a bigger statement gains little. */
  maxRowsPerStatement?: number;
  /** `mysql` compares JSON columns through CAST(? AS JSON) in full-row matching; MariaDB's JSON is text. */
  flavor?: 'mariadb' | 'mysql';
  /**
   * Multi-row statements get row counts from a small fixed set (the largest chunk the limits allow,
   * then powers of two down to `fixedChunkMinRows`), so that a handful of prepared statements per
   * table shape serves every batch; the chunks of such a size are marked `prepare`. The rows left
   * over below the smallest size go in one unmarked chunk (text protocol: not worth a statement).
   */
  fixedChunkSizes?: boolean;
  /** Smallest fixed chunk size (a power of two; default {@link FIXED_CHUNK_MIN_ROWS}). */
  fixedChunkMinRows?: number;
}

/** Column data types (information_schema DATA_TYPE, lower case), when the caller knows them. */
export interface MysqlTableInfo extends TargetTableInfo {
  columnTypes?: Record<string, string>;
  /**
   * The table has a UNIQUE key besides `keyColumns`. ON DUPLICATE KEY UPDATE fires on ANY unique
   * key, so a new row colliding with a different row on such a key would silently overwrite that
   * row; upserts into these tables carry a guard that turns the collision into an error instead.
   */
  otherUniqueKeys?: boolean;
  /**
   * Generated columns of the target: never written (the server computes them and refuses a value).
   * A source row carries them like any other column; they are left out of INSERT and UPDATE.
   */
  generatedColumns?: string[];
}

/** A MySQL statement plus what it carries; `kind` tells the applier how to read its affected-rows count. */
export interface MysqlChunk<Op> extends Chunk<Op> {
  kind:
    | 'delete'
    /** INSERT … ON DUPLICATE KEY UPDATE. */
    | 'upsert'
    /** Plain multi-row INSERT (full-row tables, where no key can conflict). */
    | 'insert'
    /** Full-row tables: removes one row equal to the before image of an UPDATE (0 rows → missing). */
    | 'deleteBeforeImage';
  /**
   * With `fixedChunkSizes`: this statement's text is one of few (its row count is a fixed size), so a
   * server-side prepared statement for it is reused across batches.
   */
  prepare?: boolean;
}

export const MYSQL_MAX_PLACEHOLDERS = 65_535;

/** Smallest row count that gets a prepared statement with `fixedChunkSizes`; fewer rows go as text. */
export const FIXED_CHUNK_MIN_ROWS = 16;

const DEFAULTS = {
  upsertSyntax: 'values' as UpsertSyntax,
  maxStatementBytes: 4 * 1024 * 1024,
  maxPlaceholders: MYSQL_MAX_PLACEHOLDERS,
  maxRowsPerStatement: 1000,
  flavor: 'mariadb' as 'mariadb' | 'mysql',
  fixedChunkSizes: false,
  fixedChunkMinRows: FIXED_CHUNK_MIN_ROWS,
};

/**
 * SQL modes for applying replicated rows:
 * - STRICT_ALL_TABLES: a value that does not fit the target column is an error, never a silent
 *   truncation (the target must not drift).
 * - no NO_ZERO_DATE / NO_ZERO_IN_DATE, plus ALLOW_INVALID_DATES: any date a source could store
 *   ('0000-00-00', '2020-00-15', '2020-02-30' under its own modes) is stored as is.
 * - NO_AUTO_VALUE_ON_ZERO: an AUTO_INCREMENT column receiving 0 stores 0 instead of a new number.
 * - no NO_BACKSLASH_ESCAPES / ANSI_QUOTES: mysql2's client-side escaping writes backslash escapes.
 * - NO_ENGINE_SUBSTITUTION: replicated DDL fails rather than quietly using another engine.
 */
export const MYSQL_APPLY_SQL_MODE =
  'STRICT_ALL_TABLES,ALLOW_INVALID_DATES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION';

/** Quotes one MySQL identifier with backticks, doubling backticks inside it. */
export function quoteMysqlIdentifier(name: string): string {
  if (name.length === 0) throw new Error('empty identifier');
  if (name.includes('\0')) throw new Error(`identifier contains a NUL character: ${JSON.stringify(name)}`);
  return '`' + name.replace(/`/g, '``') + '`';
}

/** `schema`.`table`, both quoted. */
export function quoteMysqlTable(ref: TableRef): string {
  return `${quoteMysqlIdentifier(ref.schema)}.${quoteMysqlIdentifier(ref.table)}`;
}

/** Worst-case size of a value in SQL text (quotes and backslash escapes), used for chunking. */
export function estimateValueBytes(v: CellValue | undefined): number {
  if (v === null || v === undefined) return 4;
  if (typeof v === 'number' || typeof v === 'bigint') return 24;
  if (Buffer.isBuffer(v)) return v.length * 2 + 3;
  // Every character may need escaping; UTF-8 is at most 3 bytes per UTF-16 unit.
  return v.length * 6 + 2;
}

export class MysqlDialect implements TargetDialect<Statement> {
  readonly name = 'mysql';
  private readonly opts: typeof DEFAULTS;

  constructor(options: MysqlDialectOptions = {}) {
    this.opts = { ...DEFAULTS, ...stripUndefined(options) };
    if (this.opts.maxPlaceholders > MYSQL_MAX_PLACEHOLDERS || this.opts.maxPlaceholders < 1)
      throw new Error(`maxPlaceholders must be between 1 and ${MYSQL_MAX_PLACEHOLDERS}`);
  }

  /** A copy with some options changed (the applier lowers maxStatementBytes to the server's packet size). */
  withOptions(options: MysqlDialectOptions): MysqlDialect {
    return new MysqlDialect({ ...this.opts, ...stripUndefined(options) });
  }

  get options(): Readonly<typeof DEFAULTS> {
    return this.opts;
  }

  quoteIdentifier(name: string): string {
    return quoteMysqlIdentifier(name);
  }

  quoteTable(ref: TableRef): string {
    return quoteMysqlTable(ref);
  }

  /**
   * Session settings for an applying connection:
   * - time_zone '+00:00': TIMESTAMP values arrive as UTC text and must be stored unshifted.
   * - sql_mode {@link MYSQL_APPLY_SQL_MODE}.
   * - foreign_key_checks 0 unless asked: see {@link SessionOptions.foreignKeyChecks}.
   * - unique_checks stays 1: turning it off lets InnoDB skip duplicate checks on secondary unique
   *   keys, which could store duplicates silently.
   */
  sessionSetup(options: SessionOptions = {}): Statement[] {
    return [
      { sql: "SET time_zone = '+00:00'", params: [] },
      { sql: `SET sql_mode = '${MYSQL_APPLY_SQL_MODE}'`, params: [] },
      { sql: `SET foreign_key_checks = ${options.foreignKeyChecks ? 1 : 0}`, params: [] },
    ];
  }

  /**
   * Keyed tables: `DELETE … WHERE key IN (…)`, chunked. Full-row tables: one
   * `DELETE … WHERE a <=> ? AND … LIMIT 1` per row, so that of two identical rows one stays.
   */
  deleteStatements(info: MysqlTableInfo, deletes: DeleteOp[]): Array<MysqlChunk<DeleteOp>> {
    if (deletes.length === 0) return [];
    if (info.keyKind === 'fullRow') {
      return deletes.map((op) => ({
        kind: 'delete',
        statement: this.deleteOneMatching(info, op.key),
        ops: [op],
      }));
    }
    const table = this.quoteTable(info.ref);
    return this.chunk(deletes, info.keyColumns.length, (op) => sumBytes(op.key)).map((c) => ({
      kind: 'delete',
      statement: {
        sql: `DELETE FROM ${table} WHERE ${this.keyInList(info.keyColumns, c.items.length)}`,
        params: c.items.flatMap((op) => op.key),
      },
      ops: c.items,
      ...(c.fixed ? { prepare: true } : {}),
    }));
  }

  /**
   * Keyed tables: multi-row INSERT … ON DUPLICATE KEY UPDATE, one group per statement shape
   * (column list + updated columns), chunked. In FIELD mode (`changedColumns` set) only the
   * changed columns are updated on an existing row, while a missing row is inserted whole.
   *
   * Full-row tables: an UPDATE (`expectExisting`) first deletes one row equal to its before image
   * (`op.key` holds the before image in `keyColumns` order); then every row is inserted with plain
   * multi-row INSERTs. An INSERT is never matched against existing rows: identical rows may repeat.
   */
  upsertStatements(info: MysqlTableInfo, upserts: UpsertOp[]): Array<MysqlChunk<UpsertOp>> {
    if (upserts.length === 0) return [];
    if (info.keyKind === 'fullRow') {
      const deletes: Array<MysqlChunk<UpsertOp>> = upserts
        .filter((op) => op.expectExisting)
        .map((op) => ({
          kind: 'deleteBeforeImage',
          statement: this.deleteOneMatching(info, op.key),
          ops: [op],
        }));
      return [...deletes, ...this.insertGroups(info, upserts, false)];
    }
    return this.insertGroups(info, upserts, true);
  }

  /**
   * `SELECT COUNT(*) AS n FROM t WHERE key IN (…)`: how many of these keys exist. The applier
   * runs it before upserting UPDATEs to find rows missing on the target; counting (rather than
   * comparing returned keys) leaves equality to the server's own collations and types.
   */
  countExistingStatement(info: TargetTableInfo, keys: CellValue[][]): Statement {
    if (info.keyKind === 'fullRow') throw new Error('countExistingStatement needs a keyed table');
    return {
      sql: `SELECT COUNT(*) AS n FROM ${this.quoteTable(info.ref)} WHERE ${this.keyInList(info.keyColumns, keys.length)}`,
      params: keys.flat(),
    };
  }

  /** Splits keys into chunks that {@link countExistingStatement} can take. */
  chunkKeys(info: TargetTableInfo, keys: CellValue[][]): CellValue[][][] {
    return this.chunk(keys, info.keyColumns.length, sumBytes, false).map((c) => c.items);
  }

  /** Single-row statements for {@link TargetApplier.applyRowByRow}. */
  rowStatement(info: MysqlTableInfo, op: DeleteOp | UpsertOp): Array<MysqlChunk<DeleteOp | UpsertOp>> {
    if (op.kind === 'delete') {
      if (info.keyKind === 'fullRow') return this.deleteStatements(info, [op]);
      return [
        {
          kind: 'delete',
          statement: {
            sql: `DELETE FROM ${this.quoteTable(info.ref)} WHERE ${this.keyEquals(info.keyColumns)}`,
            params: [...op.key],
          },
          ops: [op],
        },
      ];
    }
    return this.upsertStatements(info, [op]);
  }

  // ---- statement builders ----

  private insertGroups(
    info: MysqlTableInfo,
    upserts: UpsertOp[],
    onDuplicate: boolean,
  ): Array<MysqlChunk<UpsertOp>> {
    type Group = { columns: string[]; updates: string[]; ops: UpsertOp[] };
    const groups = new Map<string, Group>();
    // Hot path (every upserted row): rows of one table nearly always share their column list, so the
    // group is looked up by the row's own column names (NUL-separated: identifiers cannot hold NUL)
    // and the statement shape is worked out once per distinct list, not once per row.
    const bySignature = new Map<string, Group>();
    // The previous row's column names and group: consecutive rows nearly always match them, which is
    // checked name by name without building a signature string per row (garbage on the hot path).
    let lastNames: string[] = [];
    let lastChanged: string[] | undefined;
    let last: Group | undefined;
    for (const op of upserts) {
      if (last && sameNames(op.row, lastNames) && sameList(op.changedColumns, lastChanged)) {
        last.ops.push(op);
        continue;
      }
      let signature = '';
      for (const c of op.row.keys()) signature += `${c}\u0000`;
      if (op.changedColumns) {
        signature += '\u0001';
        for (const c of op.changedColumns) signature += `${c}\u0000`;
      }
      let g = bySignature.get(signature);
      if (!g) {
        const columns = withoutGenerated(info, orderColumns(info.columns, [...op.row.keys()]));
        const updates = onDuplicate ? this.updateColumns(info, columns, op.changedColumns) : [];
        const shape = JSON.stringify([columns, updates]);
        g = groups.get(shape);
        if (!g) {
          g = { columns, updates, ops: [] };
          groups.set(shape, g);
        }
        bySignature.set(signature, g);
      }
      g.ops.push(op);
      last = g;
      lastNames = [...op.row.keys()];
      lastChanged = op.changedColumns;
    }
    const table = this.quoteTable(info.ref);
    const out: Array<MysqlChunk<UpsertOp>> = [];
    for (const g of groups.values()) {
      const rowPlaceholders = `(${g.columns.map(() => '?').join(',')})`;
      const head = `INSERT INTO ${table} (${g.columns.map(quoteMysqlIdentifier).join(',')}) VALUES `;
      const tail = onDuplicate ? this.onDuplicateClause(info, g.updates) : '';
      const columns = g.columns;
      const rowBytes = (op: UpsertOp) => {
        let n = 0;
        for (let i = 0; i < columns.length; i++) n += estimateValueBytes(op.row.get(columns[i]!));
        return n;
      };
      for (const { items: ops, fixed } of this.chunk(g.ops, columns.length, rowBytes)) {
        const params = new Array<unknown>(ops.length * columns.length);
        let p = 0;
        for (const op of ops)
          for (let i = 0; i < columns.length; i++) params[p++] = op.row.get(columns[i]!) ?? null;
        out.push({
          kind: onDuplicate ? 'upsert' : 'insert',
          statement: { sql: head + repeatJoined(rowPlaceholders, ops.length) + tail, params },
          ops,
          ...(fixed ? { prepare: true } : {}),
        });
      }
    }
    return out;
  }

  /**
   * Columns assigned on a duplicate key: the changed ones (FIELD mode) or all written ones (ROW
   * mode), never the key itself. When nothing is left (a row of key columns only, or an UPDATE
   * that changed nothing) the first key column is assigned to itself: a no-op that keeps the
   * statement valid.
   */
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
    return updates.length > 0 ? updates : [info.keyColumns[0] ?? columns[0]!];
  }

  /**
   * `ON DUPLICATE KEY UPDATE …`. For tables with other unique keys, the first assignment is a guard:
   * `k = IF(k <=> new.k [AND …], k, NULL)` keeps the key when the duplicate is the row's own key, and
   * assigns NULL to a NOT NULL key column — error 1048 in the strict session — when the duplicate is
   * another row's secondary unique key. (Assignments run left to right, so the guard sees the old row.)
   */
  private onDuplicateClause(info: MysqlTableInfo, updates: string[]): string {
    const ref = info.ref;
    const alias =
      this.opts.upsertSyntax === 'alias'
        ? quoteMysqlIdentifier(
            ref.table.toLowerCase() === 'otterflow_new' ? 'otterflow_new_row' : 'otterflow_new',
          )
        : undefined;
    const incoming = (c: string) =>
      alias ? `${alias}.${quoteMysqlIdentifier(c)}` : `VALUES(${quoteMysqlIdentifier(c)})`;
    const assignments: string[] = [];
    const first = info.keyColumns[0];
    if (info.otherUniqueKeys && first !== undefined) {
      const same = info.keyColumns.map((k) => `${quoteMysqlIdentifier(k)}<=>${incoming(k)}`).join(' AND ');
      assignments.push(`${quoteMysqlIdentifier(first)}=IF(${same},${quoteMysqlIdentifier(first)},NULL)`);
    }
    for (const c of updates) {
      if (assignments.length > 0 && c === first) continue; // the guard already assigns it
      assignments.push(`${quoteMysqlIdentifier(c)}=${incoming(c)}`);
    }
    return `${alias ? ` AS ${alias}` : ''} ON DUPLICATE KEY UPDATE ${assignments.join(',')}`;
  }

  private deleteOneMatching(info: MysqlTableInfo, key: CellValue[]): Statement {
    if (key.length !== info.keyColumns.length)
      throw new Error(
        `full-row key of ${info.ref.schema}.${info.ref.table} has ${key.length} values for ${info.keyColumns.length} columns`,
      );
    const conds = info.keyColumns.map((c) => `${quoteMysqlIdentifier(c)} <=> ${this.valueExpr(info, c)}`);
    return {
      sql: `DELETE FROM ${this.quoteTable(info.ref)} WHERE ${conds.join(' AND ')} LIMIT 1`,
      params: [...key],
    };
  }

  /** The placeholder for a value compared with a column; MySQL's JSON type compares only with JSON. */
  private valueExpr(info: MysqlTableInfo, column: string): string {
    if (this.opts.flavor === 'mysql' && info.columnTypes?.[column] === 'json') return 'CAST(? AS JSON)';
    return '?';
  }

  private keyEquals(keyColumns: string[]): string {
    return keyColumns.map((c) => `${quoteMysqlIdentifier(c)} = ?`).join(' AND ');
  }

  private keyInList(keyColumns: string[], rows: number): string {
    if (keyColumns.length === 0) throw new Error('a keyed statement needs at least one key column');
    if (keyColumns.length === 1)
      return `${quoteMysqlIdentifier(keyColumns[0]!)} IN (${repeatJoined('?', rows)})`;
    const tuple = `(${keyColumns.map(() => '?').join(',')})`;
    return `(${keyColumns.map(quoteMysqlIdentifier).join(',')}) IN (${repeatJoined(tuple, rows)})`;
  }

  /**
   * Splits items into runs that respect the placeholder, byte and row limits. An item bigger than
   * the byte limit on its own still gets a statement of its own (the server decides). With
   * `fixedChunkSizes` each run is cut further into fixed sizes (see {@link fixedChunkRows}).
   */
  private chunk<T>(
    items: T[],
    paramsPerItem: number,
    bytesOf: (item: T) => number,
    cutFixed = this.opts.fixedChunkSizes,
  ): Array<{ items: T[]; fixed: boolean }> {
    const maxRows = Math.max(
      1,
      Math.min(
        this.opts.maxRowsPerStatement,
        Math.floor(this.opts.maxPlaceholders / Math.max(1, paramsPerItem)),
      ),
    );
    const budget = this.opts.maxStatementBytes;
    const out: T[][] = [];
    let current: T[] = [];
    let bytes = 512; // statement text around the values
    for (const item of items) {
      const b = bytesOf(item) + 4;
      if (current.length > 0 && (current.length >= maxRows || bytes + b > budget)) {
        out.push(current);
        current = [];
        bytes = 512;
      }
      current.push(item);
      bytes += b;
    }
    if (current.length > 0) out.push(current);
    if (!cutFixed) return out.map((items) => ({ items, fixed: false }));
    const fixed: Array<{ items: T[]; fixed: boolean }> = [];
    for (const run of out) {
      let at = 0;
      const minRows = this.opts.fixedChunkMinRows;
      for (const n of fixedChunkRows(run.length, maxRows, minRows)) {
        fixed.push({ items: run.slice(at, at + n), fixed: n >= minRows });
        at += n;
      }
    }
    return fixed;
  }
}

/**
 * Row counts a run of `n` rows (n ≤ maxRows) is cut into so that few distinct statements exist:
 * `maxRows` itself, else the powers of two in n's binary form down to `minRows`, largest first, and
 * the rest (fewer than `minRows`) as one last piece. At most log2(maxRows / minRows) + 1 distinct
 * sizes of at least `minRows` per statement shape; a piece never holds more rows than the run, so it
 * respects the run's byte budget too.
 */
export function fixedChunkRows(n: number, maxRows: number, minRows = FIXED_CHUNK_MIN_ROWS): number[] {
  if (n >= maxRows) return [n];
  const out: number[] = [];
  let left = n;
  for (let p = 2 ** Math.floor(Math.log2(Math.max(1, n))); p >= Math.max(1, minRows); p /= 2) {
    if (left >= p) {
      out.push(p);
      left -= p;
    }
  }
  if (left > 0) out.push(left);
  return out;
}

/** Row columns in table order; columns the table does not have go last, so the server names them in its error. */
function withoutGenerated(info: MysqlTableInfo, columns: string[]): string[] {
  const generated = info.generatedColumns;
  return generated ? columns.filter((c) => !generated.includes(c)) : columns;
}

function orderColumns(tableColumns: string[], present: string[]): string[] {
  const have = new Set(present);
  const ordered = tableColumns.filter((c) => have.has(c));
  if (ordered.length === present.length) return ordered;
  const known = new Set(tableColumns);
  return [...ordered, ...present.filter((c) => !known.has(c))];
}

/** The row's column names are exactly `names`, in order. */
function sameNames(row: ReadonlyMap<string, unknown>, names: readonly string[]): boolean {
  if (row.size !== names.length) return false;
  let i = 0;
  for (const k of row.keys()) if (k !== names[i++]) return false;
  return true;
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function repeatJoined(s: string, n: number): string {
  return new Array<string>(n).fill(s).join(',');
}

function sumBytes(values: CellValue[]): number {
  let n = 0;
  for (const v of values) n += estimateValueBytes(v);
  return n;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
