import { OracleCheckpointSql } from '../../src/connectors/oracle/checkpoint';
import type { OracleConnectionLike } from '../../src/connectors/oracle/connection';

/**
 * A stand-in for an Oracle database where none can run: connections shaped like `oracledb`'s
 * Connection (execute, executeMany with batchErrors/dmlRowCounts, commit, rollback, close) that
 * record every call — SQL, binds, options, which connection — in one shared log, and can be told to
 * fail at the Nth call or to reject one row of an executeMany.
 *
 * Given a real connection to wrap ({@link RecordingOracleDatabase.connectTo}), it records and injects
 * failures the same way and forwards every call to the real database. Without one,
 * it keeps just enough state to let a pipeline stop and resume: the checkpoint table, recognised by
 * the exact statements of {@link OracleCheckpointSql}, with committed rows apart from each
 * connection's uncommitted changes (COMMIT publishes them, ROLLBACK and close discard them). Row
 * locks between connections are not modelled. DML on other tables answers one affected row per bind
 * row unless a test scripts the counts ({@link RecordingOracleDatabase.rowCounts}).
 */

export type RecordedMethod = 'execute' | 'executeMany' | 'commit' | 'rollback' | 'close';

export interface RecordedCall {
  /** 1-based position in the database's log. */
  n: number;
  /** Which connection (1-based, in the order they were opened). */
  connection: number;
  method: RecordedMethod;
  sql?: string;
  binds?: unknown;
  options?: unknown;
  /** The call threw (an injected failure). */
  failed?: boolean;
}

/** A table the catalog queries of the table-info reader find (names as Oracle stores them). */
export interface RecordedTable {
  owner: string;
  table: string;
  columns: Array<{ name: string; dataType: string; nullable?: boolean; precision?: number; scale?: number }>;
  /** Primary key columns, in order; none: a key-less table. */
  primaryKey?: string[];
}

/** A statement that committed: executeMany calls between a connection's previous end of transaction and its COMMIT. */
export interface CommittedStatement {
  connection: number;
  sql: string;
  binds: unknown[][];
}

interface CheckpointRow {
  epoch: number;
  file: string | null;
  pos: number;
  gtid: string | null;
  batchSeq: number;
}

/** An error shaped like oracledb's (`code` 'ORA-nnnnn', `errorNum`, message starting with the code). */
export function oracleError(
  code: string,
  text = 'injected failure',
): Error & { code: string; errorNum: number } {
  const err = new Error(`${code}: ${text}`) as Error & { code: string; errorNum: number };
  err.code = code;
  err.errorNum = Number(code.replace(/^ORA-0*/, ''));
  return err;
}

/**
 * Keeps state for more statements than the checkpoint's (e.g. backfill progress tables), with
 * per-connection uncommitted changes: answers what it recognises, undefined for anything else.
 */
export interface RecordingStatementModel {
  execute(
    connection: number,
    sql: string,
    binds: unknown[],
  ): { rows?: unknown[][]; rowsAffected?: number } | undefined;
  /** Per-row counts of an executeMany it recognises. */
  executeMany(connection: number, sql: string, binds: unknown[][]): number[] | undefined;
  /** The connection committed (publish its changes), or rolled back / closed (`false`: drop them). */
  end(connection: number, commit: boolean): void;
}

export class RecordingOracleDatabase {
  readonly calls: RecordedCall[] = [];
  /** Models of further tables (see {@link RecordingStatementModel}). */
  readonly models: RecordingStatementModel[] = [];
  /** Committed checkpoint rows by pipeline. */
  readonly checkpoints = new Map<string, CheckpointRow>();
  /** Per-row counts for an executeMany on user tables; default: 1 for every bind row. */
  rowCounts: (sql: string, binds: unknown[][]) => number[] = (_sql, binds) => binds.map(() => 1);
  private readonly failures: Array<{ when: (c: RecordedCall) => boolean; error: Error; once: boolean }> = [];
  private readonly rowFailures: Array<{ when: (c: RecordedCall) => boolean; offset: number; error: Error }> =
    [];
  private opened = 0;
  private readonly catalog = new Map<string, RecordedTable>();
  private readonly answers: Array<{ sql: string; rows: (binds: unknown[]) => unknown[][] }> = [];

  constructor(readonly checkpointSql: OracleCheckpointSql = new OracleCheckpointSql()) {}

  /** A new connection (an `oracledb.getConnection` stand-in). */
  connect(): RecordingOracleConnection {
    this.opened++;
    return new RecordingOracleConnection(this, this.opened);
  }

  /** A connection that records (and fails as told) in front of a real one. */
  connectTo(real: OracleConnectionLike): RecordingOracleConnection {
    this.opened++;
    return new RecordingOracleConnection(this, this.opened, real);
  }

  /** The call numbered `n` in the log (counting every method of every connection) throws `error`. */
  failAt(n: number, error: Error = oracleError('ORA-03113', 'end-of-file on communication channel')): void {
    this.failures.push({ when: (c) => c.n === n, error, once: true });
  }

  /** The first call matching `when` (from now on) throws `error`. */
  failWhen(when: (c: RecordedCall) => boolean, error: Error): void {
    this.failures.push({ when, error, once: true });
  }

  /** The first executeMany matching `when` reports row `offset` in `batchErrors` (the other rows apply). */
  rejectRow(when: (c: RecordedCall) => boolean, offset: number, error: Error): void {
    this.rowFailures.push({ when, offset, error });
  }

  /** Queries whose SQL starts with `sql` answer these rows. */
  answer(sql: string, rows: (binds: unknown[]) => unknown[][]): void {
    this.answers.push({ sql, rows });
  }

  /** Makes a table known to the catalog queries (ALL_TAB_COLUMNS, ALL_CONSTRAINTS). */
  defineTable(t: RecordedTable): void {
    this.catalog.set(`${t.owner}.${t.table}`, t);
  }

  /**
   * The executeMany calls that committed, in commit order: per connection, the calls since its last
   * COMMIT/ROLLBACK/close, kept at its COMMIT and dropped at ROLLBACK, close or a failed call.
   */
  committedStatements(): CommittedStatement[] {
    const open = new Map<number, CommittedStatement[]>();
    const out: CommittedStatement[] = [];
    for (const c of this.calls) {
      const list = open.get(c.connection) ?? [];
      open.set(c.connection, list);
      if (c.method === 'executeMany' && !c.failed)
        list.push({ connection: c.connection, sql: c.sql!, binds: c.binds as unknown[][] });
      else if (c.method === 'commit' && !c.failed) out.push(...list.splice(0));
      else if (c.method === 'rollback' || c.method === 'close') list.splice(0);
    }
    return out;
  }

  /** @internal Answers the table-info reader's catalog queries. */
  catalogQuery(sql: string, binds: unknown[]): { rows: unknown[][] } | undefined {
    const scripted = this.answers.find((a) => sql.startsWith(a.sql));
    if (scripted) return { rows: scripted.rows(binds) };
    const t = this.catalog.get(`${binds[0]}.${binds[1]}`);
    if (sql.startsWith('SELECT column_name, data_type'))
      return {
        rows: (t?.columns ?? []).map((c) => [
          c.name,
          c.dataType,
          c.nullable === false ? 'N' : 'Y',
          c.precision ?? null,
          c.scale ?? null,
        ]),
      };
    if (sql.startsWith('SELECT c.constraint_name'))
      return { rows: (t?.primaryKey ?? []).map((col, i) => ['PK', 'P', col, i + 1]) };
    return undefined;
  }

  /** The calls of one connection, or matching a filter. */
  of(filter: (c: RecordedCall) => boolean): RecordedCall[] {
    return this.calls.filter(filter);
  }

  /** @internal */
  record(call: Omit<RecordedCall, 'n'>): RecordedCall {
    const c: RecordedCall = { n: this.calls.length + 1, ...call };
    this.calls.push(c);
    const i = this.failures.findIndex((f) => f.when(c));
    if (i >= 0) {
      const f = this.failures[i]!;
      if (f.once) this.failures.splice(i, 1);
      c.failed = true;
      throw f.error;
    }
    return c;
  }

  /** @internal */
  takeRowFailure(c: RecordedCall): { offset: number; error: Error } | undefined {
    const i = this.rowFailures.findIndex((f) => f.when(c));
    if (i < 0) return undefined;
    return this.rowFailures.splice(i, 1)[0];
  }
}

type Pending = Map<string, CheckpointRow | undefined>;
type Answer<T> = Awaited<ReturnType<OracleConnectionLike['execute']>> & { rows?: T[] };
type ManyAnswer = Awaited<ReturnType<OracleConnectionLike['executeMany']>>;

export class RecordingOracleConnection implements OracleConnectionLike {
  /** Checkpoint rows this connection changed and has not committed (undefined: deleted). */
  private pending: Pending = new Map();
  private closed = false;

  constructor(
    readonly db: RecordingOracleDatabase,
    readonly id: number,
    private readonly real?: OracleConnectionLike,
  ) {}

  async execute<T = unknown>(sql: string, binds: unknown[] = [], options: unknown = {}): Promise<Answer<T>> {
    this.ensureOpen();
    this.db.record({ connection: this.id, method: 'execute', sql, binds, options });
    if (this.real) return this.real.execute<T>(sql, binds, options as never) as Promise<Answer<T>>;
    const values = binds.map(plain);
    const answer = this.checkpointStatement(sql, values) ??
      this.modelled(sql, values) ??
      this.db.catalogQuery(sql, binds) ?? { rowsAffected: 0 };
    return answer as Answer<T>;
  }

  async executeMany(sql: string, binds: unknown[][], options: unknown = {}): Promise<ManyAnswer> {
    this.ensureOpen();
    const call = this.db.record({ connection: this.id, method: 'executeMany', sql, binds, options });
    if (this.real) return this.real.executeMany(sql, binds, options as never);
    const plainRows = binds.map((row) => row.map(plain));
    const counts =
      this.db.models.map((m) => m.executeMany(this.id, sql, plainRows)).find((c) => c !== undefined) ??
      this.db.rowCounts(sql, binds);
    const rowFailure = this.db.takeRowFailure(call);
    if (rowFailure) {
      counts[rowFailure.offset] = 0;
      const e = rowFailure.error as Error & { code?: string; errorNum?: number };
      const batchError = {
        offset: rowFailure.offset,
        message: e.message,
        code: e.code,
        errorNum: e.errorNum,
      };
      return {
        rowsAffected: counts.reduce((a, b) => a + b, 0),
        dmlRowCounts: counts,
        batchErrors: [batchError],
      };
    }
    return { rowsAffected: counts.reduce((a, b) => a + b, 0), dmlRowCounts: counts };
  }

  async commit(): Promise<void> {
    this.ensureOpen();
    this.db.record({ connection: this.id, method: 'commit' });
    if (this.real) return this.real.commit();
    for (const [k, row] of this.pending) {
      if (row) this.db.checkpoints.set(k, row);
      else this.db.checkpoints.delete(k);
    }
    this.pending = new Map();
    for (const m of this.db.models) m.end(this.id, true);
  }

  async rollback(): Promise<void> {
    this.ensureOpen();
    this.db.record({ connection: this.id, method: 'rollback' });
    if (this.real) return this.real.rollback();
    this.pending = new Map();
    for (const m of this.db.models) m.end(this.id, false);
  }

  async close(): Promise<void> {
    this.db.record({ connection: this.id, method: 'close' });
    if (this.real) {
      this.closed = true;
      return this.real.close();
    }
    this.pending = new Map(); // Oracle rolls back what a closed session did not commit
    for (const m of this.db.models) m.end(this.id, false);
    this.closed = true;
  }

  private modelled(sql: string, binds: unknown[]): Answer<unknown> | undefined {
    for (const m of this.db.models) {
      const a = m.execute(this.id, sql, binds);
      if (a) return a as Answer<unknown>;
    }
    return undefined;
  }

  private ensureOpen(): void {
    if (this.closed) throw oracleError('ORA-03114', 'not connected to ORACLE');
  }

  private current(pipeline: string): CheckpointRow | undefined {
    return this.pending.has(pipeline) ? this.pending.get(pipeline) : this.db.checkpoints.get(pipeline);
  }

  /** Answers the checkpoint statements; undefined for anything else. */
  private checkpointStatement(sql: string, b: unknown[]): Answer<unknown> | undefined {
    const q = this.db.checkpointSql;
    const update = (pipeline: unknown, epoch: unknown, change: (r: CheckpointRow) => CheckpointRow) => {
      const row = this.current(String(pipeline));
      if (!row || (epoch !== undefined && row.epoch !== Number(epoch))) return { rowsAffected: 0 };
      this.pending.set(String(pipeline), change(row));
      return { rowsAffected: 1 };
    };
    const position = (r: CheckpointRow, file: unknown, pos: unknown, gtid: unknown): CheckpointRow => ({
      ...r,
      file: file === null || file === '' ? null : String(file),
      pos: Number(pos),
      gtid: gtid === null ? null : String(gtid),
    });
    switch (sql) {
      case q.create():
        return {};
      case q.select():
      case q.selectForUpdate(): {
        const r = this.current(String(b[0]));
        return { rows: r ? [[r.epoch, r.file, r.pos, r.gtid]] : [] };
      }
      case q.bumpEpoch():
        return update(b[1], undefined, (r) => ({ ...r, epoch: Number(b[0]) }));
      case q.insert():
        if (this.current(String(b[0]))) throw oracleError('ORA-00001', 'unique constraint violated');
        this.pending.set(
          String(b[0]),
          position({ epoch: 1, batchSeq: 0 } as CheckpointRow, b[1], b[2], b[3]),
        );
        return { rowsAffected: 1 };
      case q.fence(false):
        return update(b[0], b[1], (r) => ({ ...r, batchSeq: r.batchSeq + 1 }));
      case q.fence(true):
        return update(b[3], b[4], (r) => position({ ...r, batchSeq: r.batchSeq + 1 }, b[0], b[1], b[2]));
      case q.write():
        return update(b[3], b[4], (r) => position(r, b[0], b[1], b[2]));
      case q.delete():
        this.pending.set(String(b[0]), undefined);
        return { rowsAffected: 1 };
      default:
        return undefined;
    }
  }
}

/** A bind given as `{ type, val }` stands for its value. */
function plain(v: unknown): unknown {
  if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v) && 'val' in v)
    return (v as { val: unknown }).val;
  return v;
}
